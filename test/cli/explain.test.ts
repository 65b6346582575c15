/**
 * `tierguard explain`: query parsing, single-query text and JSON output, streaming of `--queries`,
 * and the command's usage errors, on the small fixtures in `test/fixtures/explain/`.
 */
import { execFile } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  endpointFlag, explainContext, explainQueries, explainQuery, formatExplainText, namedPortFlag, parseQueryLine,
  QueryLineError, verdictJson, type ExplainContext, type Query,
} from '../../src/cli/explain.js';
import { loadPolicySet } from '../../src/policy/load.js';
import { readManifests } from '../../src/policy/manifests.js';
import { fixturePath, REPO_DIR } from '../helpers/fixtures.js';

const POLICIES = fixturePath('explain', 'policies.yaml');
const MANIFESTS = fixturePath('explain', 'manifests.yaml');

let context: ExplainContext;

beforeAll(async () => {
  const loaded = await loadPolicySet([POLICIES], { generation: 1 });
  const manifests = await readManifests([MANIFESTS]);
  const built = explainContext({ set: loaded.set!, documents: manifests.documents, namespaces: loaded.namespaces });
  expect(built.problems).toEqual([]);
  context = built.context!;
});

function query(from: string, to: string, port: number, extra: { protocol?: Query['protocol']; toPorts?: string[] } = {}): Query {
  const target = endpointFlag(to);
  const ports = Object.fromEntries((extra.toPorts ?? []).map(namedPortFlag));
  return { from: endpointFlag(from), to: extra.toPorts ? { ...target, ports } as Query['to'] : target, protocol: extra.protocol ?? 'TCP', port };
}

const tier = (t: string, guardrail: string, rule: string) => ({ layer: 'tier', tier: t, guardrail, rule });
const policies = (...names: string[]) => ({ layer: 'networkpolicy', policies: names });
const open = { layer: 'default' };

describe('explain verdicts (JSON)', () => {
  it.each([
    { name: 'a NetworkPolicy allows, the other side is not isolated', q: query('prod/app=api', 'prod/app=db', 5432), allowed: true, egress: [true, open], ingress: [true, policies('prod/db-ingress')] },
    { name: 'a tier Deny wins over the NetworkPolicies', q: query('dev/app=web', 'prod/app=db', 5432), allowed: false, egress: [true, policies('dev/egress-lockdown')], ingress: [false, tier('security', 'prod-isolation', 'deny-from-dev')] },
    { name: 'Pass goes on to the next tier, whose Accept matches the named port', q: query('monitoring/app=prom', 'prod/app=db', 9090, { toPorts: ['metrics=9090/TCP'] }), allowed: true, egress: [true, open], ingress: [true, tier('platform', 'monitoring', 'allow-scrape')] },
    { name: 'a named port with another protocol does not match', q: query('monitoring/app=prom', 'prod/app=db', 9090, { toPorts: ['metrics=9090/UDP'] }), allowed: false, egress: [true, open], ingress: [false, policies('prod/db-ingress')] },
    { name: 'Pass, then no tier decides: the isolating NetworkPolicy denies', q: query('monitoring/app=prom', 'prod/app=db', 9090), allowed: false, egress: [true, open], ingress: [false, policies('prod/db-ingress')] },
    { name: 'a networks Deny on egress; an address has no side', q: query('prod/app=api', '8.8.8.8', 443), allowed: false, egress: [false, tier('security', 'prod-isolation', 'no-internet')], ingress: [true, open] },
    { name: 'an Accept before the Deny', q: query('prod/app=api', '10.0.0.10', 53, { protocol: 'UDP' }), allowed: true, egress: [true, tier('security', 'prod-isolation', 'allow-dns')], ingress: [true, open] },
    { name: 'an IPv6 address', q: query('prod/app=api', '2001:db8::1', 443), allowed: false, egress: [false, tier('security', 'prod-isolation', 'no-internet')], ingress: [true, open] },
    { name: 'leading zeros are decimal, as Kubernetes reads them: 010.0.0.010 is 10.0.0.10', q: query('prod/app=api', '010.0.0.010', 53, { protocol: 'UDP' }), allowed: true, egress: [true, tier('security', 'prod-isolation', 'allow-dns')], ingress: [true, open] },
    { name: 'an IPv4-mapped address is the IPv4 address', q: query('prod/app=api', '::ffff:10.0.0.10', 53, { protocol: 'UDP' }), allowed: true, egress: [true, tier('security', 'prod-isolation', 'allow-dns')], ingress: [true, open] },
    { name: 'an address source, a pod that is not isolated', q: query('192.0.2.1', 'dev/app=web', 80), allowed: true, egress: [true, open], ingress: [true, open] },
    { name: 'an egress NetworkPolicy denies what it does not list', q: query('dev/app=web', 'monitoring/', 5432), allowed: false, egress: [false, policies('dev/egress-lockdown')], ingress: [true, open] },
    { name: 'an unknown namespace has its name label', q: query('batch/', 'prod/app=db', 5432), allowed: true, egress: [true, open], ingress: [true, policies('prod/db-ingress')] },
    { name: 'an unknown namespace has only its name label', q: query('other/env=dev', 'prod/app=db', 5432), allowed: false, egress: [true, open], ingress: [false, policies('prod/db-ingress')] },
    { name: 'a Warn guardrail never decides', q: query('dev/app=web', 'dev/app=api', 8080), allowed: false, egress: [false, policies('dev/egress-lockdown')], ingress: [true, open] },
  ])('$name', ({ q, allowed, egress, ingress }) => {
    expect(verdictJson(explainQuery(context, q))).toEqual({
      allowed,
      egress: { allowed: egress[0], decidedBy: egress[1] },
      ingress: { allowed: ingress[0], decidedBy: ingress[1] },
    });
  });
});

describe('explain text output', () => {
  it.each([
    {
      name: 'tier rules consulted, Pass then Accept',
      q: query('monitoring/app=prom', 'prod/app=db', 9090, { toPorts: ['metrics=9090'] }),
      text: [
        'ALLOW TCP 9090 from monitoring/app=prom to prod/app=db',
        'egress of source monitoring/app=prom: allowed',
        '  tier rules: none applies',
        '  decided by default: no NetworkPolicy selects the pod for egress (not isolated)',
        'ingress of destination prod/app=db: allowed',
        '  tier security, guardrail prod-isolation, rule pass-monitoring: Pass (on to the next tier)',
        '  tier platform, guardrail monitoring, rule allow-scrape: Accept',
        '  decided by tier platform, guardrail monitoring, rule allow-scrape',
      ],
    },
    {
      name: 'NetworkPolicies on both sides, a tier Deny',
      q: query('dev/app=web', 'prod/app=db', 5432),
      text: [
        'DENY TCP 5432 from dev/app=web to prod/app=db',
        'egress of source dev/app=web: allowed',
        '  tier rules: none applies',
        '  decided by NetworkPolicy dev/egress-lockdown: allowed by its rules',
        'ingress of destination prod/app=db: denied',
        '  tier security, guardrail prod-isolation, rule deny-from-dev: Deny',
        '  decided by tier security, guardrail prod-isolation, rule deny-from-dev',
      ],
    },
    {
      name: 'an isolated pod no rule allows, an address source',
      q: query('192.0.2.1', 'prod/app=db', 5432),
      text: [
        'DENY TCP 5432 from 192.0.2.1 to prod/app=db',
        'egress: no side of its own (the source is an address)',
        'ingress of destination prod/app=db: denied',
        '  tier rules: none applies',
        '  decided by NetworkPolicy prod/db-ingress: the pod is isolated for ingress and no rule allows this',
      ],
    },
  ])('$name', ({ q, text }) => {
    expect(formatExplainText(q, explainQuery(context, q), context)).toBe(`${text.join('\n')}\n`);
  });

  it('says when an end\'s namespace is not declared, once, since it is taken with its name label only', () => {
    const q = query('nowhere/app=x', 'nowhere/app=y', 80);
    const text = formatExplainText(q, explainQuery(context, q), context).split('\n');
    expect(text.filter((line) => line.startsWith('note: '))).toEqual(['note: namespace nowhere is not declared (no Namespace object given): taken with its name label only']);
    expect(text.at(-2)).toMatch(/^note: /);
  });
});

describe('reading queries', () => {
  it.each([
    { name: 'a pod with prefixed label keys', text: 'shop/app=web,app.kubernetes.io/part-of=store', endpoint: { namespace: 'shop', labels: { app: 'web', 'app.kubernetes.io/part-of': 'store' } } },
    { name: 'a pod without labels', text: 'shop/', endpoint: { namespace: 'shop', labels: {} } },
    { name: 'an empty label value', text: 'shop/canary=', endpoint: { namespace: 'shop', labels: { canary: '' } } },
    { name: 'an IPv4 address', text: '10.1.2.3', endpoint: { address: '10.1.2.3' } },
    { name: 'an IPv6 address', text: 'fd00::1', endpoint: { address: 'fd00::1' } },
  ])('--from/--to: $name', ({ text, endpoint }) => {
    expect(endpointFlag(text)).toEqual(endpoint);
  });

  it.each([
    { text: 'shop', reason: '"shop" is neither an IP address nor NAMESPACE/KEY=VALUE,...' },
    { text: '/app=web', reason: 'is neither an IP address' },
    { text: 'shop/app', reason: 'label "app" is not KEY=VALUE' },
    { text: '10.0.0.300', reason: 'is neither an IP address' },
    { text: 'fe80::1%eth0', reason: 'is neither an IP address' },
    { text: '0x0a.0.0.1', reason: 'is neither an IP address' },
  ])('--from/--to rejects $text', ({ text, reason }) => {
    expect(() => endpointFlag(text)).toThrow(reason);
  });

  it('--to-port: NAME=PORT/PROTOCOL, protocol TCP when omitted', () => {
    expect(namedPortFlag('dns=53/udp')).toEqual(['dns', { port: 53, protocol: 'UDP' }]);
    expect(namedPortFlag('http=8080')).toEqual(['http', { port: 8080, protocol: 'TCP' }]);
    expect(() => namedPortFlag('http:8080')).toThrow('"http:8080" is not NAME=PORT/PROTOCOL');
    expect(() => namedPortFlag('http=0')).toThrow('expected an integer port from 1 to 65535');
  });

  it('reads a queries line; protocol defaults to TCP; a named port numbered 0 never matches', () => {
    expect(parseQueryLine('{"from":{"address":"10.0.0.1"},"to":{"namespace":"b","labels":{"app":"x"},"ports":{"udps":{"port":0,"protocol":"UDP"}}},"port":80}')).toEqual({
      from: { address: '10.0.0.1' }, to: { namespace: 'b', labels: { app: 'x' }, ports: { udps: { port: 0, protocol: 'UDP' } } }, protocol: 'TCP', port: 80,
    });
  });

  it.each([
    { name: 'invalid JSON', line: '{"from":', reason: 'invalid JSON' },
    { name: 'not an object', line: '[1]', reason: 'expected an object' },
    { name: 'an unknown field', line: '{"from":{"address":"10.0.0.1"},"to":{"address":"10.0.0.2"},"port":80,"proto":"TCP"}', reason: 'proto: unknown field' },
    { name: 'a missing port', line: '{"from":{"namespace":"a"},"to":{"namespace":"b"}}', reason: 'port: expected an integer port from 1 to 65535' },
    { name: 'port 0', line: '{"from":{"namespace":"a"},"to":{"namespace":"b"},"port":0}', reason: 'port: expected an integer port' },
    { name: 'a lower-case protocol', line: '{"from":{"namespace":"a"},"to":{"namespace":"b"},"protocol":"tcp","port":80}', reason: 'protocol: expected TCP, UDP, SCTP' },
    { name: 'a bad address', line: '{"from":{"address":"10.0.0.256"},"to":{"namespace":"b"},"port":80}', reason: 'from.address: expected an IPv4 or IPv6 address' },
    { name: 'an address with ports', line: '{"from":{"namespace":"a"},"to":{"address":"10.0.0.1","ports":{}},"port":80}', reason: 'to.ports: unknown field' },
    { name: 'ports on the source', line: '{"from":{"namespace":"a","ports":{}},"to":{"namespace":"b"},"port":80}', reason: 'from.ports: unknown field' },
    { name: 'no namespace', line: '{"from":{"labels":{}},"to":{"namespace":"b"},"port":80}', reason: 'from.namespace: expected a namespace name' },
    { name: 'a non-string label', line: '{"from":{"namespace":"a","labels":{"n":1}},"to":{"namespace":"b"},"port":80}', reason: 'from.labels[n]: expected a string value' },
    { name: 'a bad named port', line: '{"from":{"namespace":"a"},"to":{"namespace":"b","ports":{"http":{"port":"80"}}},"port":80}', reason: 'to.ports[http].port: expected an integer port' },
  ])('rejects a line with $name', ({ line, reason }) => {
    expect(() => parseQueryLine(line)).toThrow(reason);
  });
});

async function stream(text: string): Promise<{ output: string; count?: number; error?: unknown }> {
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  output.on('data', (chunk: Buffer) => chunks.push(chunk));
  try {
    const count = await explainQueries({ context, input: Readable.from([text]), output });
    return { output: Buffer.concat(chunks).toString('utf8'), count };
  } catch (error) {
    return { output: Buffer.concat(chunks).toString('utf8'), error };
  }
}

const LINE = '{"from":{"namespace":"prod","labels":{"app":"api"}},"to":{"address":"8.8.8.8"},"protocol":"TCP","port":443}';
const ANSWER = '{"allowed":false,"egress":{"allowed":false,"decidedBy":{"layer":"tier","tier":"security","guardrail":"prod-isolation","rule":"no-internet"}},"ingress":{"allowed":true,"decidedBy":{"layer":"default"}}}';

describe('explain --queries (streaming)', () => {
  it('answers every line in order, with or without a final newline, CRLF too', async () => {
    expect(await stream(`${LINE}\n${LINE}\n`)).toEqual({ output: `${ANSWER}\n${ANSWER}\n`, count: 2 });
    expect(await stream(`${LINE}\r\n${LINE}`)).toEqual({ output: `${ANSWER}\n${ANSWER}\n`, count: 2 });
    expect(await stream('')).toEqual({ output: '', count: 0 });
  });

  it.each([
    { name: 'a malformed line', text: `${LINE}\n${LINE}\n{"from":{"address":"x"}}\n${LINE}\n`, line: 3, reason: 'from.address: expected an IPv4 or IPv6 address', answered: 2 },
    { name: 'a blank line', text: `${LINE}\n\n${LINE}\n`, line: 2, reason: 'empty line (expected one JSON query per line)', answered: 1 },
  ])('stops at $name, after writing the answers to the lines before it', async ({ text, line, reason, answered }) => {
    const result = await stream(text);
    expect(result.error).toBeInstanceOf(QueryLineError);
    expect(result.error).toMatchObject({ line, reason, message: `line ${line}: ${reason}` });
    expect(result.output).toBe(`${ANSWER}\n`.repeat(answered));
  });
});

const CLI = path.join(REPO_DIR, 'dist', 'cli', 'main.js');
/** Only turns a hung command into a failure: starting node takes seconds on a busy machine. */
const CLI_KILL_MS = 60_000;

function tierguard(args: readonly string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, 'explain', ...args], { cwd: REPO_DIR, timeout: CLI_KILL_MS }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

const FIXTURES = ['--config', 'test/fixtures/explain/policies.yaml', '-f', 'test/fixtures/explain/manifests.yaml'];

describe('tierguard explain (built command)', { timeout: CLI_KILL_MS * 2 }, () => {
  it('prints the text report of one query and exits 0 even when the connection is denied', async () => {
    const result = await tierguard([...FIXTURES, '--from', 'prod/app=api', '--to', '8.8.8.8', '--port', '443']);
    expect(result).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        'DENY TCP 443 from prod/app=api to 8.8.8.8',
        'egress of source prod/app=api: denied',
        '  tier security, guardrail prod-isolation, rule no-internet: Deny',
        '  decided by tier security, guardrail prod-isolation, rule no-internet',
        'ingress: no side of its own (the destination is an address)',
        '',
      ].join('\n'),
    });
  });

  it('-o json prints the same object as a queries line; --to-port and --protocol resolve named ports', async () => {
    const result = await tierguard([...FIXTURES, '--from', 'monitoring/app=prom', '--to', 'prod/app=db', '--to-port', 'metrics=9090/UDP', '--protocol', 'UDP', '--port', '9090', '-o', 'json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ allowed: true, egress: { allowed: true, decidedBy: open }, ingress: { allowed: true, decidedBy: tier('platform', 'monitoring', 'allow-scrape') } });
  });

  it('answers a --queries file line by line, in order', async () => {
    const result = await tierguard([...FIXTURES, '--queries', 'test/fixtures/explain/queries.jsonl']);
    expect(result.code).toBe(0);
    const answers = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(answers.map((answer) => [answer.allowed, answer.egress.decidedBy.layer, answer.ingress.decidedBy.layer])).toEqual([
      [true, 'default', 'networkpolicy'], [false, 'networkpolicy', 'tier'], [false, 'tier', 'default'],
    ]);
    expect(result.stdout.split('\n')[2]).toBe(ANSWER);
  });

  it('reads --queries - from stdin; a malformed line exits 2 naming it, after the earlier answers', async () => {
    const result = await tierguard([...FIXTURES, '--queries', '-'], `${LINE}\n{"from":1}\n${LINE}\n`);
    expect(result).toEqual({ code: 2, stdout: `${ANSWER}\n`, stderr: 'tierguard: stdin line 2: from: expected an object\n' });
  });

  // One at a time: a dozen node processes started at once is what made these slow on a busy machine.
  it.for([
    { name: 'no query', args: FIXTURES, stderr: 'give --from, --to and --port (or --queries FILE)' },
    { name: 'no --port', args: [...FIXTURES, '--from', 'a/', '--to', 'b/'], stderr: 'give --from, --to and --port' },
    { name: 'a bad --from', args: [...FIXTURES, '--from', 'nope', '--to', 'b/', '--port', '80'], stderr: '"nope" is neither an IP address nor NAMESPACE/KEY=VALUE,...' },
    { name: 'a bad --to-port', args: [...FIXTURES, '--from', 'a/', '--to', 'b/', '--to-port', 'http', '--port', '80'], stderr: '"http" is not NAME=PORT/PROTOCOL' },
    { name: '--to-port on an address', args: [...FIXTURES, '--from', 'a/', '--to', '10.0.0.1', '--to-port', 'http=80', '--port', '80'], stderr: 'invalid query: --to-port: needs a pod destination, not an address' },
    { name: 'a bad --protocol', args: [...FIXTURES, '--from', 'a/', '--to', 'b/', '--port', '80', '--protocol', 'ICMP'], stderr: "argument 'ICMP' is invalid" },
    { name: 'a port out of range', args: [...FIXTURES, '--from', 'a/', '--to', 'b/', '--port', '0'], stderr: '--port must be an integer from 1 to 65535' },
    { name: 'both --queries and --from', args: [...FIXTURES, '--queries', '-', '--from', 'a/'], stderr: 'give either --queries or --from/--to/--port, not both' },
    { name: '--queries with -o text', args: [...FIXTURES, '--queries', '-', '-o', 'text'], stderr: '--queries writes JSON lines; -o text is for a single query' },
    { name: 'a missing queries file', args: [...FIXTURES, '--queries', 'no/such.jsonl'], stderr: 'cannot read the queries from no/such.jsonl: ENOENT' },
    { name: 'a broken policy set', args: ['--config', 'test/fixtures/policies/broken.yaml', '--from', 'a/', '--to', 'b/', '--port', '80'], stderr: 'spec.tier: tier "nope" does not exist' },
    { name: 'a malformed NetworkPolicy', args: ['--config', 'test/fixtures/explain/policies.yaml', '-f', 'test/fixtures/explain/bad-netpol.yaml', '--from', 'a/', '--to', 'b/', '--port', '80'], stderr: 'test/fixtures/explain/bad-netpol.yaml#2 (NetworkPolicy prod/broken) spec.ingress[0].ports[0].port: expected a port number 1-65535 or a port name' },
  ])('exits 2 on $name, saying why on stderr', async ({ args, stderr }, { expect }) => {
    const result = await tierguard(args);
    expect(result.stderr).toContain(stderr);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
  });
});
