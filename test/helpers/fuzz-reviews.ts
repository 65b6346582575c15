/**
 * fast-check generators of hostile AdmissionReview bodies for the fuzz test: the captured
 * reviews of `test/fixtures/admission-reviews/` mutated at random (wrong types in any field,
 * missing fields, odd keys, huge label maps, deep nesting, very long strings, odd numbers), then
 * possibly damaged as bytes (truncated, invalid UTF-8, flipped bytes); plus review-shaped random
 * JSON, random JSON and random bytes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { fixturePath } from './fixtures.js';

export interface FuzzInput {
  readonly path: '/mutate' | '/validate';
  /** Undefined: no Content-Type header at all. */
  readonly contentType: string | undefined;
  /** Send a Content-Length header (else the body goes chunked). */
  readonly contentLength: boolean;
  readonly body: Buffer;
  /** What was done, for the failure report and the tally: `validate-create-pod: replace+truncate`. */
  readonly origin: string;
}

export interface FuzzOptions {
  /** Let some inputs be much larger than the others (up to a few MB: some exceed the body limit). */
  readonly huge: boolean;
}

export const FIXTURES = readdirSync(fixturePath('admission-reviews')).filter((name) => name.endsWith('.json')).map((name) => name.slice(0, -'.json'.length)).sort();
const fixtureTexts = new Map(FIXTURES.map((name) => [name, readFileSync(fixturePath('admission-reviews', `${name}.json`), 'utf8')]));

type Path = readonly (string | number)[];

type Mutation = MutationOp & {
  /** Which node, as an index into the candidate nodes (modulo their number). */
  readonly at: number;
  /** Mostly nodes of `request.object` and `request.oldObject`, where the engine reads. */
  readonly inObject: boolean;
};

type MutationOp =
  | { readonly op: 'delete' }
  | { readonly op: 'replace'; readonly value: unknown }
  | { readonly op: 'add-key'; readonly key: string; readonly value: unknown }
  | { readonly op: 'labels'; readonly count: number; readonly value: string }
  | { readonly op: 'long-string'; readonly length: number; readonly unit: string }
  | { readonly op: 'deep'; readonly depth: number; readonly open: '[' | '{"a":' }
  | { readonly op: 'raw'; readonly text: string };

type Damage =
  | { readonly op: 'truncate'; readonly fraction: number }
  | { readonly op: 'invalid-utf8'; readonly where: 'uid' | 'labels' | 'anywhere'; readonly fraction: number; readonly bytes: readonly number[] }
  | { readonly op: 'flip'; readonly fraction: number; readonly byte: number };

/** Byte sequences that are not UTF-8: a lone continuation byte, overlong forms, a surrogate, a cut sequence, bytes never used. */
const INVALID_UTF8: readonly (readonly number[])[] = [[0x80], [0xc0, 0x80], [0xc1, 0xbf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xff], [0xfe, 0xff], [0xf8, 0x88, 0x80, 0x80, 0x80]];

/** Number texts JSON allows that JavaScript reads oddly: beyond double range, below it, past 2^63, negative zero. */
const ODD_NUMBERS = ['1e999', '-1e999', '1e-400', '-0', '9223372036854775808', '123456789012345678901234567890', '0.5', '65536', '-1'];

const WEIRD_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' ', 'labels', 'metadata', 'uid', 'a/b~1c', '\u0000', '\ud800', 'k'.repeat(300)];

/**
 * Any character: ASCII mostly, then troublemakers (NUL, quotes, line separators, a BOM, emoji,
 * lone surrogates) and any code point. (fast-check's `binary` unit builds a million-entry table.)
 */
const anyChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...'abcxyz019-._/ ') },
  { weight: 2, arbitrary: fc.constantFrom('\u0000', '\n', '"', '\\', 'é', '😀', '\ud800', '\udfff', '\u2028', '\ufeff', '\uffff') },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0x10ffff }).map((code) => String.fromCodePoint(code)) },
);

const anyString = (maxLength: number) => fc.string({ unit: anyChar, maxLength });

const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53 + 2, '', 'x', [], {}, [null], { '': null }),
  anyString(30),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.jsonValue({ maxDepth: 3 }),
);

function mutationArb(options: FuzzOptions): fc.Arbitrary<Mutation> {
  // Mostly small; one in twenty large when `huge` (around the 1 MiB body limit of the fuzz test).
  const big = (small: number, large: number) => (options.huge
    ? fc.oneof({ weight: 19, arbitrary: fc.integer({ min: 1, max: small }) }, { weight: 1, arbitrary: fc.integer({ min: small, max: large }) })
    : fc.integer({ min: 1, max: small }));
  const op: fc.Arbitrary<MutationOp> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('delete' as const) }) },
    { weight: 8, arbitrary: fc.record({ op: fc.constant('replace' as const), value: wrongValue }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('add-key' as const), key: fc.oneof(fc.constantFrom(...WEIRD_KEYS), anyString(10)), value: wrongValue }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('labels' as const), count: big(200, 30_000), value: anyString(8) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('long-string' as const), length: big(2_000, 600_000), unit: fc.constantFrom('a', 'é', '😀', '\\', '"', '\u0000', '\ud800', 'ab\n') }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('deep' as const), depth: big(500, 250_000), open: fc.constantFrom('[' as const, '{"a":' as const) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('raw' as const), text: fc.constantFrom(...ODD_NUMBERS) }) },
  );
  return fc.tuple(op, fc.nat(), fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }))
    .map(([mutation, at, inObject]) => ({ ...mutation, at, inObject }));
}

/** Where in the body, as a fraction of its length (unbiased: fast-check favours the ends otherwise). */
const fraction = fc.noBias(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }));

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), fraction }),
  fc.record({ op: fc.constant('invalid-utf8' as const), where: fc.constantFrom('uid' as const, 'labels' as const, 'anywhere' as const), fraction, bytes: fc.constantFrom(...INVALID_UTF8) }),
  fc.record({ op: fc.constant('flip' as const), fraction, byte: fc.integer({ min: 0, max: 255 }) }),
);

const transportArb = fc.record({
  path: fc.constantFrom('/mutate' as const, '/validate' as const),
  contentType: fc.oneof(
    { weight: 20, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'application/jsonx', 'application/x-www-form-urlencoded', undefined) },
  ),
  contentLength: fc.boolean(),
});

/** Every kind of input, mutated captured reviews above all. */
export function fuzzInputArb(options: FuzzOptions): fc.Arbitrary<FuzzInput> {
  const mutated = fc.record({
    fixture: fc.constantFrom(...FIXTURES),
    mutations: fc.array(mutationArb(options), { minLength: 1, maxLength: 4 }),
    damage: sometimes(damageArb, 5),
    transport: transportArb,
  }).map(({ fixture, mutations, damage, transport }) => {
    const body = damageBytes(Buffer.from(mutatedText(JSON.parse(fixtureTexts.get(fixture) as string), mutations), 'utf8'), damage);
    return { ...transport, body, origin: `${fixture}: ${[...mutations.map((m) => m.op), ...(damage ? [damage.op] : [])].join('+')}` };
  });
  const shaped = fc.tuple(reviewShapedArb, sometimes(damageArb, 5), transportArb)
    .map(([value, damage, transport]) => ({ ...transport, body: damageBytes(Buffer.from(JSON.stringify(value), 'utf8'), damage), origin: 'review-shaped JSON' }));
  const json = fc.tuple(fc.json({ maxDepth: 4 }), transportArb).map(([text, transport]) => ({ ...transport, body: Buffer.from(text, 'utf8'), origin: 'random JSON' }));
  const bytes = fc.tuple(fc.uint8Array({ maxLength: 4096 }), transportArb).map(([data, transport]) => ({ ...transport, body: Buffer.from(data), origin: 'random bytes' }));
  return fc.oneof({ weight: 14, arbitrary: mutated }, { weight: 3, arbitrary: shaped }, { weight: 1, arbitrary: json }, { weight: 2, arbitrary: bytes });
}

/** `arbitrary` once in `every` values, else null. */
function sometimes<T>(arbitrary: fc.Arbitrary<T>, every: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: every - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });
}

/** Objects with the envelope of an AdmissionReview and random content where the engine reads. */
const reviewShapedArb = fc.record({
  apiVersion: fc.oneof({ weight: 5, arbitrary: fc.constant('admission.k8s.io/v1') }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) }),
  kind: fc.oneof({ weight: 5, arbitrary: fc.constant('AdmissionReview') }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) }),
  request: fc.record({
    uid: fc.oneof({ weight: 5, arbitrary: fc.uuid() }, { weight: 1, arbitrary: anyString(40) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) }),
    kind: fc.record({
      group: fc.constantFrom('', 'apps', 'batch', 'networking.k8s.io', 'tierguard.dev'),
      version: fc.constantFrom('v1', 'v1alpha1'),
      kind: fc.constantFrom('Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'NetworkPolicy', 'Namespace', 'Tier', 'Guardrail', 'Secret'),
    }),
    operation: fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT', 'create'),
    namespace: fc.oneof(fc.constantFrom('payments', 'kube-system', 'tierguard', 'unknown-ns', ''), anyString(20)),
    name: fc.string({ maxLength: 20 }),
    subResource: fc.constantFrom('status', 'exec', ''),
    userInfo: fc.jsonValue({ maxDepth: 2 }),
    object: objectArb(),
    oldObject: objectArb(),
    dryRun: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 0 })),
  }, { requiredKeys: ['uid', 'kind', 'operation'] }),
}, { requiredKeys: ['apiVersion', 'kind'] });

/** A Kubernetes-looking object whose fields hold random JSON at every level the engine reads. */
function objectArb(): fc.Arbitrary<unknown> {
  const anything = fc.jsonValue({ maxDepth: 3 });
  const labels = fc.oneof(fc.dictionary(anyString(12), anyString(12)), anything);
  const metadata = fc.record({ name: anything, namespace: fc.oneof(fc.constant('payments'), anything), labels }, { requiredKeys: [] });
  const cidr = fc.constantFrom('0.0.0.0/0', '10.0.0.0/8', '::/0', '300.1.1.1/8', 'x');
  const peer = fc.record({
    ipBlock: fc.oneof(fc.record({ cidr, except: anything }, { requiredKeys: [] }), anything),
    podSelector: anything,
    namespaceSelector: fc.oneof(fc.record({ matchLabels: labels }), anything),
  }, { requiredKeys: [] });
  const port = fc.record({ port: anything, endPort: anything, protocol: fc.oneof(fc.constantFrom('TCP', 'UDP', 'SCTP'), anything) }, { requiredKeys: [] });
  const listOr = <T>(item: fc.Arbitrary<T>) => fc.oneof(fc.array(item, { maxLength: 3 }), anything);
  const rule = fc.record({ from: listOr(peer), to: listOr(peer), ports: listOr(port) }, { requiredKeys: [] });
  const spec = fc.record({
    podSelector: anything,
    policyTypes: fc.oneof(fc.constant(['Ingress', 'Egress']), anything),
    ingress: listOr(rule),
    egress: listOr(rule),
    hostNetwork: anything,
    containers: anything,
    template: fc.oneof(fc.record({ metadata }), anything),
    jobTemplate: anything,
  }, { requiredKeys: [] });
  return fc.oneof({ weight: 4, arbitrary: fc.record({ metadata: fc.oneof(metadata, anything), spec: fc.oneof(spec, anything) }, { requiredKeys: [] }) }, { weight: 1, arbitrary: anything });
}

/** The review with the mutations applied, as JSON text (placeholders become deep or odd text). */
function mutatedText(root: unknown, mutations: readonly Mutation[]): string {
  const holder: { root: unknown } = { root };
  const splices = new Map<string, string>();
  for (const mutation of mutations) {
    const placeholder = `\u0001splice-${splices.size}\u0001`;
    const text = apply(holder, mutation, placeholder);
    if (text !== undefined) splices.set(JSON.stringify(placeholder), text);
  }
  let out = JSON.stringify(holder.root) ?? '';
  for (const [placeholder, text] of splices) out = out.replace(placeholder, () => text);
  return out;
}

/** Applies one mutation; returns the raw text for the placeholder when the mutation uses one. */
function apply(holder: { root: unknown }, mutation: Mutation, placeholder: string): string | undefined {
  const everywhere = nodePaths(holder.root);
  const inObject = everywhere.filter((p) => p[0] === 'request' && (p[1] === 'object' || p[1] === 'oldObject'));
  const paths = mutation.inObject && inObject.length > 0 ? inObject : everywhere;
  const path = paths[mutation.at % paths.length] as Path;
  switch (mutation.op) {
    case 'delete': setAt(holder, path, undefined); return undefined;
    // A copy: fast-check hands out the same `{}` or `[]` each time, and a later mutation must
    // neither change it for the next input nor make it contain itself.
    case 'replace': setAt(holder, path, structuredClone(mutation.value)); return undefined;
    case 'add-key': {
      const objects = paths.filter((p) => isObject(getAt(holder.root, p)));
      const target = objects[mutation.at % Math.max(1, objects.length)];
      if (target) defineKey(getAt(holder.root, target) as Record<string, unknown>, mutation.key, structuredClone(mutation.value));
      return undefined;
    }
    case 'labels': {
      const metadata = paths.filter((p) => p[p.length - 1] === 'metadata' && isObject(getAt(holder.root, p)));
      const target = metadata[mutation.at % Math.max(1, metadata.length)];
      const labels = Object.fromEntries(Array.from({ length: mutation.count }, (_, i) => [`k${i}.example.com/${mutation.value}${i}`, `${mutation.value}${i}`]));
      if (target) (getAt(holder.root, target) as Record<string, unknown>).labels = labels;
      else setAt(holder, path, labels);
      return undefined;
    }
    case 'long-string': setAt(holder, path, mutation.unit.repeat(Math.ceil(mutation.length / mutation.unit.length))); return undefined;
    case 'deep': {
      setAt(holder, path, placeholder);
      return `${mutation.open.repeat(mutation.depth)}1${(mutation.open === '[' ? ']' : '}').repeat(mutation.depth)}`;
    }
    case 'raw': setAt(holder, path, placeholder); return mutation.text;
  }
}

/**
 * Every node's path (root included), skipping the insides of managedFields, which nothing reads,
 * and all but the first 20 members of a large map or list (a huge label map from an earlier mutation).
 */
function nodePaths(root: unknown): Path[] {
  const out: Path[] = [];
  const stack: [Path, unknown][] = [[[], root]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [path, value] = next;
    out.push(path);
    if (path[path.length - 1] === 'managedFields' || typeof value !== 'object' || value === null) continue;
    for (const key of Object.keys(value).slice(0, 20)) {
      stack.push([[...path, Array.isArray(value) ? Number(key) : key], (value as Record<string, unknown>)[key]]);
    }
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function getAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const step of path) node = (node as Record<string | number, unknown>)[step];
  return node;
}

function setAt(holder: { root: unknown }, path: Path, value: unknown): void {
  if (path.length === 0) {
    holder.root = value;
    return;
  }
  const parent = getAt(holder.root, path.slice(0, -1)) as Record<string | number, unknown>;
  const key = path[path.length - 1] as string | number;
  if (value === undefined && Array.isArray(parent)) parent.splice(key as number, 1);
  else if (value === undefined) delete parent[key];
  else defineKey(parent, key, value);
}

/** Sets an own property, also for keys like `__proto__` that assignment would treat specially. */
function defineKey(target: Record<string | number, unknown>, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function damageBytes(body: Buffer, damage: Damage | null): Buffer {
  if (!damage) return body;
  const at = Math.floor(damage.fraction * body.length);
  switch (damage.op) {
    case 'truncate': return body.subarray(0, at);
    case 'flip': return body.length === 0 ? body : Buffer.concat([body.subarray(0, at), Buffer.from([damage.byte]), body.subarray(at + 1)]);
    case 'invalid-utf8': {
      const marker = damage.where === 'uid' ? '"uid":"' : damage.where === 'labels' ? '"labels":{"' : undefined;
      const found = marker ? body.indexOf(marker) : -1;
      const position = found >= 0 ? found + Buffer.byteLength(marker as string) : at;
      return Buffer.concat([body.subarray(0, position), Buffer.from(damage.bytes), body.subarray(position)]);
    }
  }
}

/**
 * The uid an answer must echo: `request.uid` when the body, decoded as UTF-8 (invalid bytes as
 * U+FFFD, as Go's encoding/json does; a byte-order mark kept, so not JSON), is JSON with a string
 * there; otherwise the empty string.
 */
export function readableUid(body: Buffer): string {
  const value = parsedBody(body)?.value as { request?: { uid?: unknown } } | null | undefined;
  const uid = typeof value === 'object' && value !== null ? value.request?.uid : undefined;
  return typeof uid === 'string' ? uid : '';
}

/** The body read as JSON the way a webhook must read it, or undefined when it is not JSON. */
export function parsedBody(body: Buffer): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(new TextDecoder('utf-8', { ignoreBOM: true }).decode(body)) };
  } catch {
    return undefined;
  }
}
