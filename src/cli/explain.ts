/**
 * `tierguard explain` (DESIGN §4): what-if for concrete connections. Queries name two endpoints
 * (a pod as namespace + labels, or an address), a protocol and a port; the answer is the verdict of
 * each side — the source's egress, the destination's ingress — and what decided it: a tier rule, the
 * namespace's NetworkPolicies, or nothing (the pod is not isolated in that direction).
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Labels, NamespaceInfo } from '../api/kube.js';
import { evaluateConnection, networkContext, type Connection, type ConnectionVerdict, type Endpoint, type NamedPort, type NetworkContext, type SideVerdict } from '../engine/network/connectivity.js';
import { parseIp } from '../engine/network/ip-set.js';
import { parseKubeAddress } from '../engine/network/kube-cidr.js';
import { compileNetworkPolicy, type CompiledNetworkPolicy } from '../engine/network/network-policy.js';
import { protocols, type Protocol } from '../engine/network/port-set.js';
import { InvalidObjectError, isPlainObject } from '../engine/object.js';
import type { PolicySet } from '../engine/policy-set.js';
import { namespaceInfo } from '../policy/read-document.js';
import type { ManifestDocument } from '../policy/manifests.js';
import { namespaceLabels } from '../policy/namespaces.js';
import type { PolicyProblem } from '../policy/problems.js';

/**
 * A query endpoint as written in a queries line: a pod (`ports` only on `to`) or an address, read
 * as Kubernetes reads NetworkPolicy CIDRs (see `endpointFlag`).
 * A named port numbered 0 is accepted and never matches: it is how a container port declared
 * without a `containerPort` number reads in exported pod data.
 */
export type QueryEndpoint =
  | { readonly namespace: string; readonly labels: Labels; readonly ports?: Readonly<Record<string, NamedPort>> }
  | { readonly address: string };

export interface Query {
  readonly from: QueryEndpoint;
  readonly to: QueryEndpoint;
  readonly protocol: Protocol;
  readonly port: number;
}

/** The wire form of a verdict: one `--queries` output line, and `-o json` for a single query. */
export interface VerdictJson {
  readonly allowed: boolean;
  readonly egress: Pick<SideVerdict, 'allowed' | 'decidedBy'>;
  readonly ingress: Pick<SideVerdict, 'allowed' | 'decidedBy'>;
}

/** Everything a query is evaluated against, built once: the policy set, NetworkPolicies, namespace labels. */
export interface ExplainContext {
  readonly network: NetworkContext;
  readonly namespaces: ReadonlyMap<string, NamespaceInfo>;
}

/** A query (flag or line) that cannot be read; `path` is the field, empty for the whole query. */
export class QueryError extends Error {
  constructor(readonly path: string, readonly reason: string, options?: ErrorOptions) {
    super(path ? `${path}: ${reason}` : reason, options);
    this.name = 'QueryError';
  }
}

/**
 * Builds the context from the policy set and the `-f` manifests: Namespace objects (taking precedence
 * over those from `--config`) and `networking.k8s.io` NetworkPolicies (in `default` without a
 * namespace). Other kinds are ignored. Every malformed NetworkPolicy is a problem.
 */
export function explainContext(options: { set: PolicySet; documents: readonly ManifestDocument[]; namespaces: readonly NamespaceInfo[] }): { context?: ExplainContext; problems: PolicyProblem[] } {
  const namespaces = new Map(options.namespaces.map((namespace) => [namespace.name, namespace]));
  const policies: CompiledNetworkPolicy[] = [];
  const problems: PolicyProblem[] = [];
  for (const { source, value } of options.documents) {
    if (!isPlainObject(value)) continue;
    const metadata = isPlainObject(value.metadata) ? value.metadata : {};
    if (value.kind === 'Namespace' && value.apiVersion === 'v1') {
      const labels = metadata.labels ?? {};
      if (typeof metadata.name !== 'string' || !isPlainObject(labels) || Object.values(labels).some((v) => typeof v !== 'string')) {
        problems.push({ source, object: 'Namespace', path: 'metadata', message: 'a Namespace needs a string name and string labels' });
      } else {
        namespaces.set(metadata.name, namespaceInfo({ metadata: { name: metadata.name, labels: labels as Labels } }));
      }
    } else if (value.kind === 'NetworkPolicy' && typeof value.apiVersion === 'string' && value.apiVersion.startsWith('networking.k8s.io/')) {
      try {
        policies.push(compileNetworkPolicy(value, 'default'));
      } catch (error) {
        if (!(error instanceof InvalidObjectError)) throw error;
        const object = `NetworkPolicy ${String(metadata.namespace ?? 'default')}/${String(metadata.name ?? '')}`;
        problems.push({ source, object, path: error.path, message: error.message.slice(error.path.length + 2) });
      }
    }
  }
  return problems.length > 0 ? { problems } : { context: { network: networkContext(options.set, policies), namespaces }, problems };
}

/** Evaluates one query; an unknown namespace has only its `kubernetes.io/metadata.name` label. */
export function explainQuery(context: ExplainContext, query: Query): ConnectionVerdict {
  return evaluateConnection(context.network, toConnection(context, query));
}

export function toConnection(context: ExplainContext, query: Query): Connection {
  return { from: endpoint(context, query.from), to: endpoint(context, query.to), protocol: query.protocol, port: query.port };
}

function endpoint(context: ExplainContext, end: QueryEndpoint): Endpoint {
  if ('address' in end) return { kind: 'address', address: parseIp(end.address) };
  const namespaceLabelSet = namespaceLabels(end.namespace, context.namespaces.get(end.namespace));
  return { kind: 'pod', namespace: end.namespace, namespaceLabels: namespaceLabelSet, labels: end.labels, ...(end.ports ? { ports: end.ports } : {}) };
}

/** The verdict without the trace, fields in DESIGN §4 order. */
export function verdictJson(verdict: ConnectionVerdict): VerdictJson {
  return {
    allowed: verdict.allowed,
    egress: { allowed: verdict.egress.allowed, decidedBy: verdict.egress.decidedBy },
    ingress: { allowed: verdict.ingress.allowed, decidedBy: verdict.ingress.decidedBy },
  };
}

// --- reading queries --------------------------------------------------------------------------

/** Parses one `--queries` line. @throws QueryError naming the field and the reason. */
export function parseQueryLine(line: string): Query {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new QueryError('', `invalid JSON: ${(error as Error).message}`, { cause: error });
  }
  return parseQuery(value);
}

/** Validates a decoded query strictly (unknown fields are errors); `protocol` defaults to TCP. */
export function parseQuery(value: unknown): Query {
  const query = object(value, '', ['from', 'to', 'protocol', 'port']);
  return {
    from: queryEndpoint(query.from, 'from'),
    to: queryEndpoint(query.to, 'to'),
    protocol: protocol(query.protocol ?? 'TCP', 'protocol'),
    port: port(query.port, 'port'),
  };
}

function queryEndpoint(value: unknown, path: 'from' | 'to'): QueryEndpoint {
  if (isPlainObject(value) && 'address' in value) {
    const { address } = object(value, path, ['address']);
    if (typeof address !== 'string' || !parseKubeAddress(address).ok) throw new QueryError(`${path}.address`, 'expected an IPv4 or IPv6 address');
    return { address };
  }
  const pod = object(value, path, path === 'to' ? ['namespace', 'labels', 'ports'] : ['namespace', 'labels']);
  if (typeof pod.namespace !== 'string' || pod.namespace === '') throw new QueryError(`${path}.namespace`, 'expected a namespace name (or give "address" instead)');
  const labels = object(pod.labels ?? {}, `${path}.labels`);
  for (const [key, label] of Object.entries(labels)) {
    if (typeof label !== 'string') throw new QueryError(`${path}.labels[${key}]`, 'expected a string value');
  }
  if (pod.ports === undefined) return { namespace: pod.namespace, labels: labels as Labels };
  const ports: Record<string, NamedPort> = {};
  for (const [name, entry] of Object.entries(object(pod.ports, `${path}.ports`))) {
    const named = object(entry, `${path}.ports[${name}]`, ['port', 'protocol']);
    const number = named.port === 0 ? 0 : port(named.port, `${path}.ports[${name}].port`);
    ports[name] = { port: number, protocol: protocol(named.protocol ?? 'TCP', `${path}.ports[${name}].protocol`) };
  }
  return { namespace: pod.namespace, labels: labels as Labels, ports };
}

function object(value: unknown, path: string, keys?: readonly string[]): Record<string, unknown> {
  if (!isPlainObject(value)) throw new QueryError(path, 'expected an object');
  const unknown = keys ? Object.keys(value).find((key) => !keys.includes(key)) : undefined;
  if (unknown !== undefined) throw new QueryError(path ? `${path}.${unknown}` : unknown, `unknown field (expected ${keys?.join(', ')})`);
  return value;
}

function protocol(value: unknown, path: string): Protocol {
  if (!protocols.includes(value as Protocol)) throw new QueryError(path, `expected ${protocols.join(', ')}`);
  return value as Protocol;
}

function port(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) throw new QueryError(path, 'expected an integer port from 1 to 65535');
  return value;
}

// --- command-line flags -----------------------------------------------------------------------

/**
 * Parses `--from`/`--to`: an IP address, or `NAMESPACE/KEY=VALUE,...` (a pod; `NAMESPACE/` alone has
 * no labels). The namespace ends at the first `/`, so label keys may carry a prefix. Addresses are
 * read as Kubernetes reads NetworkPolicy CIDRs (`parseKubeAddress`): `010.0.0.1` is 10.0.0.1 and
 * `::ffff:10.0.0.1` is the IPv4 address 10.0.0.1.
 *
 * @example endpointFlag('shop/app=web,app.kubernetes.io/part-of=store')
 */
export function endpointFlag(text: string): QueryEndpoint {
  if (parseKubeAddress(text).ok) return { address: text };
  const slash = text.indexOf('/');
  if (slash <= 0) throw new QueryError('', `${JSON.stringify(text)} is neither an IP address nor NAMESPACE/KEY=VALUE,...`);
  const labels: Record<string, string> = {};
  for (const pair of text.slice(slash + 1).split(',').filter((part) => part !== '')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new QueryError('', `label ${JSON.stringify(pair)} is not KEY=VALUE`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { namespace: text.slice(0, slash), labels };
}

/** Parses `--to-port NAME=PORT[/PROTOCOL]` (protocol TCP when omitted, as for a containerPort). */
export function namedPortFlag(text: string): [string, NamedPort] {
  const match = /^([^=]+)=(\d+)(?:\/(\w+))?$/.exec(text);
  if (!match) throw new QueryError('', `${JSON.stringify(text)} is not NAME=PORT/PROTOCOL`);
  return [match[1] as string, { port: port(Number(match[2]), 'port'), protocol: protocol((match[3] ?? 'TCP').toUpperCase(), 'protocol') }];
}

/** The query of `--from`, `--to`, `--to-port`, `--protocol` and `--port`. @throws QueryError */
export function queryFromFlags(flags: { from: QueryEndpoint; to: QueryEndpoint; toPorts: readonly (readonly [string, NamedPort])[]; protocol: string; port: number }): Query {
  if (flags.toPorts.length === 0) return parseQuery({ from: flags.from, to: flags.to, protocol: flags.protocol, port: flags.port });
  if ('address' in flags.to) throw new QueryError('--to-port', 'needs a pod destination, not an address');
  return parseQuery({ from: flags.from, to: { ...flags.to, ports: Object.fromEntries(flags.toPorts) }, protocol: flags.protocol, port: flags.port });
}

// --- output -----------------------------------------------------------------------------------

/** `shop/app=web,tier=api`, `shop/` (no labels) or the address: the same syntax as `--from`. */
export function formatEndpoint(end: QueryEndpoint): string {
  if ('address' in end) return end.address;
  return `${end.namespace}/${Object.entries(end.labels).map(([key, value]) => `${key}=${value}`).join(',')}`;
}

/** The text report of one query: the verdict, then each side's consulted tier rules and decider. */
export function formatExplainText(query: Query, verdict: ConnectionVerdict, context?: ExplainContext): string {
  const lines = [`${verdict.allowed ? 'ALLOW' : 'DENY'} ${query.protocol} ${query.port} from ${formatEndpoint(query.from)} to ${formatEndpoint(query.to)}`];
  lines.push(...sideLines('egress', 'source', query.from, verdict.egress));
  lines.push(...sideLines('ingress', 'destination', query.to, verdict.ingress));
  // A what-if is about concrete pods, so an undeclared namespace has its name label only; `check`
  // proves a NetworkPolicy for any labels such a namespace may get, and can deny what this allows.
  const undeclared = new Set([query.from, query.to].flatMap((end) => ('namespace' in end && context && !context.namespaces.has(end.namespace) ? [end.namespace] : [])));
  for (const name of undeclared) lines.push(`note: namespace ${name} is not declared (no Namespace object given): taken with its name label only`);
  return `${lines.join('\n')}\n`;
}

function sideLines(direction: 'egress' | 'ingress', role: string, end: QueryEndpoint, side: SideVerdict): string[] {
  if ('address' in end) return [`${direction}: no side of its own (the ${role} is an address)`];
  const lines = [`${direction} of ${role} ${formatEndpoint(end)}: ${side.allowed ? 'allowed' : 'denied'}`];
  if (side.trace.length === 0) lines.push('  tier rules: none applies');
  for (const step of side.trace) lines.push(`  tier ${step.tier}, guardrail ${step.guardrail}, rule ${step.rule}: ${step.action}${step.action === 'Pass' ? ' (on to the next tier)' : ''}`);
  const decided = side.decidedBy;
  if (decided.layer === 'tier') {
    lines.push(`  decided by tier ${decided.tier}, guardrail ${decided.guardrail}, rule ${decided.rule}`);
  } else if (decided.layer === 'networkpolicy') {
    const names = `NetworkPolic${decided.policies.length === 1 ? 'y' : 'ies'} ${decided.policies.join(', ')}`;
    lines.push(side.allowed ? `  decided by ${names}: allowed by ${decided.policies.length === 1 ? 'its' : 'their'} rules` : `  decided by ${names}: the pod is isolated for ${direction} and no rule allows this`);
  } else {
    lines.push(`  decided by default: no NetworkPolicy selects the pod for ${direction} (not isolated)`);
  }
  return lines;
}

// --- streaming --------------------------------------------------------------------------------

/** A malformed `--queries` line; every line before it has been answered on the output. */
export class QueryLineError extends Error {
  constructor(readonly line: number, readonly reason: string, options?: ErrorOptions) {
    super(`line ${line}: ${reason}`, options);
    this.name = 'QueryLineError';
  }
}

const FLUSH_CHARS = 64 * 1024;

/**
 * Reads JSON-lines queries from `input` and writes one JSON verdict line per query to `output`, in
 * order, in chunks (respecting back-pressure). Every line must be a query: a blank line is malformed,
 * since skipping it would shift output lines against input lines.
 *
 * @returns the number of queries answered.
 * @throws QueryLineError at the first malformed line, after flushing the answers to the lines before it.
 */
export async function explainQueries(options: { context: ExplainContext; input: Readable; output: Writable }): Promise<number> {
  const lines = createInterface({ input: options.input, crlfDelay: Infinity });
  let pending = '';
  let count = 0;
  const flush = async () => {
    if (pending === '') return;
    const ok = options.output.write(pending);
    pending = '';
    if (!ok) await once(options.output, 'drain');
  };
  try {
    for await (const line of lines) {
      let query: Query;
      try {
        query = parseQueryLine(line);
      } catch (error) {
        if (!(error instanceof QueryError)) throw error;
        await flush();
        throw new QueryLineError(count + 1, line.trim() === '' ? 'empty line (expected one JSON query per line)' : error.message, { cause: error });
      }
      count += 1;
      pending += `${JSON.stringify(verdictJson(explainQuery(options.context, query)))}\n`;
      if (pending.length >= FLUSH_CHARS) await flush();
    }
    await flush();
  } finally {
    lines.close();
  }
  return count;
}
