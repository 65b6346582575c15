/**
 * Fuzz test of the real HTTPS webhook (issue 6, item 4): thousands of hostile bodies — captured
 * AdmissionReviews mutated at random, review-shaped random JSON, random JSON and random bytes
 * (test/helpers/fuzz-reviews.ts) — sent to `/mutate` and `/validate` of a server started
 * in-process on 127.0.0.1 with every kind of rule (test/fixtures/policies/fuzz-guardrails.yaml).
 * Every answer must be HTTP 200 with a well-formed AdmissionReview: the uid echoed when it could be
 * read, 400 for what is not JSON or has the wrong Content-Type, 413 above the body limit, a patch
 * that applies to the object, no internal error; then the server must still give valid requests
 * their known verdicts, whatever garbage came before them on the same keep-alive connection.
 *
 *   npx vitest run test/admission/fuzz.test.ts                          # FUZZ_RUNS=3000, fixed seed
 *   FUZZ_SEED=7 FUZZ_RUNS=20000 npx vitest run test/admission/fuzz.test.ts
 *   FUZZ_TRACE=/tmp/input FUZZ_SEED=7 ...      # the input in flight is kept in /tmp/input (for a crash)
 *
 * A failure stops at the first failing input (no shrinking: inputs can be megabytes) and names
 * what was done to which fixture; replay with the same seed.
 */
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { parseServeOptions } from '../../src/config/options.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { decodePatch, fixturePath, review } from '../helpers/fixtures.js';
import { fuzzInputArb, parsedBody, readableUid, type FuzzInput } from '../helpers/fuzz-reviews.js';
import { postBytes, type BytesAnswer } from '../helpers/post-bytes.js';
import { testCertificates, type TestCertificates } from '../helpers/tls.js';

/** A file that always holds the input being sent: what a crash of the test process leaves behind. */
const TRACE = process.env.FUZZ_TRACE;
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20261124;
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
/** Smaller than the 7 MiB default so that inputs over the limit are cheap to make. */
const MAX_BODY_BYTES = 1024 * 1024;
/** A request without an answer after this long is a hang (answers take milliseconds). */
const TIMEOUT_MS = 10_000;
const RESPONSE_FIELDS = new Set(['uid', 'allowed', 'status', 'patch', 'patchType', 'warnings']);
const STATUS_FIELDS = new Set(['metadata', 'status', 'message', 'reason', 'code']);
/** The kinds the webhook configurations send, plus `other` and `unknown` (no kind could be read). */
const METRIC_KINDS = new Set(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'NetworkPolicy', 'Namespace', 'Tier', 'Guardrail', 'other', 'unknown']);

let server: RunningServer;
let certs: TestCertificates;
let agent: https.Agent;
/** Error-level log lines of the server: an unexpected exception is logged there. */
const errorLog: string[] = [];

beforeAll(async () => {
  certs = testCertificates();
  server = await startServer(parseServeOptions({
    config: [fixturePath('policies', 'fuzz-guardrails.yaml')], address: '127.0.0.1', port: 0, metricsAddress: '127.0.0.1', metricsPort: 0,
    // A generous CEL bound: the known verdicts must not turn into time-outs on a loaded machine.
    tlsCert: certs.certFile, tlsKey: certs.keyFile, maxBodyBytes: MAX_BODY_BYTES, celTimeoutMs: 5000,
  }), createLogger({ level: 'error', write: (line) => errorLog.push(line) }));
  agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: certs.caCert });
});

afterAll(async () => {
  agent?.destroy();
  await server?.close();
});

function send(input: Pick<FuzzInput, 'path' | 'contentType' | 'contentLength' | 'body'>, via = agent): Promise<BytesAnswer> {
  return postBytes({ agent: via, port: server.port, timeoutMs: TIMEOUT_MS, ...input });
}

/** Asserts everything an answer to `input` must satisfy; returns the outcome for the tally. */
function checkAnswer(input: FuzzInput, answer: BytesAnswer): string {
  const context = `${input.origin} → ${input.path} (${input.body.length} bytes)`;
  expect(answer.status, context).toBe(200);
  expect(answer.contentType, context).toMatch(/^application\/json/);
  let reviewOut: any;
  expect(() => { reviewOut = JSON.parse(answer.text); }, `${context}: the body is not JSON`).not.toThrow();
  expect(reviewOut.apiVersion, context).toBe('admission.k8s.io/v1');
  expect(reviewOut.kind, context).toBe('AdmissionReview');
  const response = reviewOut.response;
  expect(Object.keys(response).filter((key) => !RESPONSE_FIELDS.has(key)), context).toEqual([]);
  expect(typeof response.allowed, context).toBe('boolean');
  const oversized = input.body.length > MAX_BODY_BYTES;
  expectSameString(response.uid, oversized ? '' : readableUid(input.body), `${context}: response.uid`);
  for (const warning of response.warnings ?? []) expect(typeof warning === 'string' && warning.length < 120, `${context}: warning ${JSON.stringify(warning)}`).toBe(true);
  const json = parsedBody(input.body);
  const unreadable = !json || input.contentType === undefined || !/^application\/json\s*(;|$)/i.test(input.contentType);
  if (!response.allowed) {
    expect(Object.keys(response.status).filter((key) => !STATUS_FIELDS.has(key)), context).toEqual([]);
    expect(typeof response.status.message, context).toBe('string');
    const code = response.status.code;
    expect(oversized ? [413] : unreadable ? [400] : [400, 403, 422, 500], `${context}: code ${code}: ${response.status.message.slice(0, 200)}`).toContain(code);
    return String(code);
  }
  expect(oversized || unreadable, `${context}: allowed`).toBe(false);
  if (response.patch !== undefined) {
    expect(response.patchType, context).toBe('JSONPatch');
    const object = (json?.value as any).request.object;
    expect(() => fastJsonPatch.applyPatch(object, decodePatch(response) as fastJsonPatch.Operation[], true), `${context}: the patch does not apply`).not.toThrow();
    return 'patched';
  }
  return 'allowed';
}

/** `toBe` for strings that may be megabytes long: the failure names the first difference instead of diffing them. */
function expectSameString(actual: unknown, expected: string, what: string): void {
  if (actual === expected) return;
  if (typeof actual !== 'string') throw new Error(`${what} is ${typeof actual}, expected a string of ${expected.length} characters`);
  let at = 0;
  while (at < actual.length && actual[at] === expected[at]) at++;
  const around = (text: string) => JSON.stringify(text.slice(Math.max(0, at - 20), at + 20));
  throw new Error(`${what}: ${actual.length} characters, expected ${expected.length}; first difference at ${at}: ${around(actual)} instead of ${around(expected)}`);
}

interface KnownCase {
  readonly name: string;
  readonly fixture: string;
  readonly path: '/mutate' | '/validate';
  /** The whole expected response, the patch decoded. */
  readonly expected: Record<string, unknown>;
}

const domainMissing = 'metadata.labels[segment.example.com/domain]: missing required label segment.example.com/domain (tier security, guardrail domain; PCI-DSS 1.3.1)';
const defaults = { 'segment.example.com/domain': 'payments', 'segment.example.com/managed': 'true' };

/** Verdicts worked out from fuzz-guardrails.yaml (the namespace payments has env=prod, domain payments). */
const KNOWN: readonly KnownCase[] = [
  {
    name: 'Pod CREATE /mutate (defaults injected)',
    fixture: 'mutate-create-pod',
    path: '/mutate',
    expected: {
      uid: review('mutate-create-pod').request.uid,
      allowed: true,
      patchType: 'JSONPatch',
      patch: Object.entries(defaults).map(([key, value]) => ({ op: 'add', path: `/metadata/labels/${key.replace('/', '~1')}`, value })),
    },
  },
  {
    name: 'NetworkPolicy CREATE /mutate without labels (map added)',
    fixture: 'mutate-create-networkpolicy-dryrun',
    path: '/mutate',
    expected: { uid: review('mutate-create-networkpolicy-dryrun').request.uid, allowed: true, patchType: 'JSONPatch', patch: [{ op: 'add', path: '/metadata/labels', value: defaults }] },
  },
  {
    name: 'Namespace CREATE /mutate (not checked)',
    fixture: 'mutate-create-namespace',
    path: '/mutate',
    expected: { uid: review('mutate-create-namespace').request.uid, allowed: true },
  },
  {
    name: 'Pod CREATE /validate (denied, with a warning)',
    fixture: 'validate-create-pod',
    path: '/validate',
    expected: {
      uid: review('validate-create-pod').request.uid,
      allowed: false,
      status: { metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403, message: `Pod payments/api-0 is denied by tierguard (1 violation):\n- ${domainMissing}` },
      warnings: ['team-label: metadata.labels[team]: missing required label team'],
    },
  },
  {
    name: 'NetworkPolicy CREATE /validate (denied by a label rule and a tier rule)',
    fixture: 'validate-create-networkpolicy',
    path: '/validate',
    expected: {
      uid: review('validate-create-networkpolicy').request.uid,
      allowed: false,
      status: {
        metadata: {},
        status: 'Failure',
        reason: 'Forbidden',
        code: 403,
        message: `NetworkPolicy payments/allow-api-from-frontend is denied by tierguard (2 violations):\n- ${domainMissing}\n`
          + '- spec.ingress[0]: NetworkPolicy payments/allow-api-from-frontend ingress[0] allows TCP 8080 from 10.0.0.0/16 to pods {app=api}; '
          + 'denied by tier security, guardrail no-corp-scanners, rule deny-corp-8080; named port metrics cannot be resolved at admission, so it was taken as any TCP port',
      },
    },
  },
  {
    name: 'Pod DELETE /validate (allowed untouched)',
    fixture: 'validate-delete-pod',
    path: '/validate',
    expected: { uid: review('validate-delete-pod').request.uid, allowed: true },
  },
];

async function answerTo(known: KnownCase, via = agent): Promise<{ response: Record<string, unknown>; reusedSocket: boolean }> {
  const answer = await send({ path: known.path, contentType: 'application/json', contentLength: true, body: Buffer.from(JSON.stringify(review(known.fixture))) }, via);
  expect(answer.status).toBe(200);
  const response = JSON.parse(answer.text).response;
  if (response.patch !== undefined) response.patch = decodePatch(response);
  return { response, reusedSocket: answer.reusedSocket };
}

describe('the webhook under fuzzed input', () => {
  it.each(KNOWN)('gives $name its known verdict first', async (known) => {
    expect((await answerTo(known)).response).toEqual(known.expected);
  });

  it(`answers ${RUNS} hostile inputs with well-formed AdmissionReviews (seed ${SEED})`, async () => {
    const tally = new Map<string, number>();
    let bytes = 0;
    let tried = 0;
    const started = performance.now();
    try {
      await fc.assert(fc.asyncProperty(fuzzInputArb({ huge: true }), async (input) => {
        const logged = errorLog.length;
        if (TRACE) writeFileSync(TRACE, Buffer.concat([Buffer.from(`${input.origin} → ${input.path}\n`), input.body]));
        tried++;
        bytes += input.body.length;
        const outcome = checkAnswer(input, await send(input));
        expect(errorLog.slice(logged), `${input.origin}: the server logged an error`).toEqual([]);
        tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
      }), { seed: SEED, numRuns: RUNS, endOnFailure: true });
    } finally {
      const outcomes = [...tally].sort(([a], [b]) => a.localeCompare(b)).map(([outcome, n]) => `${outcome} ${n}`).join(', ');
      console.log(`fuzz: ${tried} inputs (seed ${SEED}, ${(bytes / 1e6).toFixed(1)} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s: ${outcomes}`);
    }
    expect(tried).toBe(RUNS);
  }, Math.max(60_000, RUNS * 30));

  it.each(KNOWN)('still gives $name its known verdict afterwards', async (known) => {
    expect((await answerTo(known)).response).toEqual(known.expected);
  });

  it('answers a valid request the same whatever garbage came before it on the same keep-alive connection', async () => {
    let tried = 0;
    await fc.assert(fc.asyncProperty(fc.array(fuzzInputArb({ huge: false }), { minLength: 1, maxLength: 4 }), fc.constantFrom(...KNOWN), async (garbage, known) => {
      const connection = new https.Agent({ keepAlive: true, maxSockets: 1, ca: certs.caCert });
      try {
        for (const input of garbage) checkAnswer(input, await send(input, connection));
        const { response, reusedSocket } = await answerTo(known, connection);
        expect(reusedSocket).toBe(true);
        expect(response).toEqual(known.expected);
        tried += garbage.length + 1;
      } finally {
        connection.destroy();
      }
    }), { seed: SEED, numRuns: Math.max(20, Math.round(RUNS / 20)) });
    console.log(`fuzz: ${tried} requests on keep-alive connections, a known one after 1-4 garbage ones`);
  }, 60_000);

  it('kept the kind label of the metrics to the kinds tierguard is registered for, whatever kinds the requests claimed', async () => {
    const series = [...(await server.metrics.requests.get()).values, ...(await server.metrics.duration.get()).values];
    const kinds = new Set(series.map((value) => String(value.labels.kind)));
    expect(kinds.size).toBeGreaterThan(3);
    expect([...kinds].filter((kind) => !METRIC_KINDS.has(kind))).toEqual([]);
  });

  it('logged no internal error and counted none', async () => {
    expect(errorLog).toEqual([]);
    const internal = (await server.metrics.errors.get()).values.filter((value) => value.labels.reason === 'internal');
    expect(internal.reduce((sum, value) => sum + value.value, 0)).toBe(0);
  });
});
