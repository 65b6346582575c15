/**
 * YAML read as Kubernetes reads it. kubectl (and the API server, for YAML bodies) turns YAML into
 * JSON with sigs.k8s.io/yaml, whose fork of go-yaml v2 resolves plain scalars by YAML 1.1 rules:
 * `yes`, `on` and `y` are `true`, `0644` is the octal 420, `1_000` is 1000, `<<` merges a mapping
 * into another. Read by the `yaml` library's YAML 1.2 schema, the same text gives the strings
 * "yes" and "on" and the number 644, so `check` would have judged a `defaultMode: 0644` as 644 and
 * accepted a label `pci: yes`, which kubectl refuses (a label value must be a string).
 *
 * So the library only parses (its failsafe schema: every scalar a string), and this file gives
 * each scalar, key and merge the value go-yaml v2 gives it, then converts to JSON as
 * sigs.k8s.io/yaml does: keys that are not strings are written as text (`true`, `16`, a float in
 * Go's `%g` of its float32), and what JSON cannot hold (`.inf`, `.nan`, a null or a collection as
 * a key) is an error naming its line, as kubectl refuses the file. `test/policy/kube-yaml.test.ts`
 * holds every rule here to kubectl's own reading of the same text.
 *
 * Two deliberate differences: a key written twice in one mapping is an error (kubectl keeps the
 * last one silently; keys are compared as the text they become, so `1` and `1.0` are the same
 * key), and integers beyond 2^53 lose precision, as every JSON number does here.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, Scalar, type Alias, type Document, type ParsedNode, type YAMLError, type YAMLMap } from 'yaml';

/** One YAML document: its JSON value, or why Kubernetes would refuse it (`invalid YAML at line 3, column 7: ...`). */
export type KubeYamlDocument =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly message: string };

/** The documents of a YAML (or JSON) text, each as kubectl reads it. */
export function readKubeYaml(text: string): KubeYamlDocument[] {
  const lines = new LineCounter();
  return parseAllDocuments(text, { schema: 'failsafe', merge: true, uniqueKeys: false, lineCounter: lines }).map((doc) => {
    if (doc.errors.length > 0) return { ok: false, message: syntaxErrorMessage(doc.errors) };
    try {
      return { ok: true, value: new Converter(doc, lines).value(doc.contents) };
    } catch (error) {
      if (error instanceof RefusedYaml) return { ok: false, message: `invalid YAML${error.at ? ` at line ${error.at.line}, column ${error.at.col}` : ''}: ${error.message}` };
      throw error;
    }
  });
}

/**
 * One syntax error of a document, where the parser gave up: the error whose range ends last (the
 * others are what led there, or what followed). Its line is that of the range's end — a key
 * indented too far is found on its own line, not on the line before — and its column the start's
 * when the range is on one line. The yaml library reported each error, starting a line early.
 */
function syntaxErrorMessage(errors: readonly YAMLError[]): string {
  const end = (error: YAMLError) => error.linePos?.[1] ?? error.linePos?.[0];
  const last = errors.reduce((a, b) => {
    const [x, y] = [end(a), end(b)];
    return y && (!x || y.line > x.line || (y.line === x.line && y.col > x.col)) ? b : a;
  });
  const [start, stop] = [last.linePos?.[0], end(last)];
  const reason = (last.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  if (!stop) return `invalid YAML: ${reason}`;
  const column = start && start.line === stop.line ? start.col : stop.col;
  return `invalid YAML at line ${stop.line}, column ${column}: ${reason}`;
}

/** Something sigs.k8s.io/yaml refuses, with where it is. */
class RefusedYaml extends Error {
  constructor(message: string, readonly at?: { readonly line: number; readonly col: number }) {
    super(message);
  }
}

/** A plain scalar's value as go-yaml v2 resolves it (`resolve` in its resolve.go). */
type Resolved = string | boolean | null | { readonly int: bigint } | { readonly float: number };

const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const TRUES = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']);
const FALSES = new Set(['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']);
const SPECIAL_FLOATS = new Map<string, number>([
  ...['.nan', '.NaN', '.NAN'].map((text) => [text, Number.NaN] as const),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((text) => [text, Number.POSITIVE_INFINITY] as const),
  ...['-.inf', '-.Inf', '-.INF'].map((text) => [text, Number.NEGATIVE_INFINITY] as const),
]);
/** go-yaml's `yamlStyleFloat`: what it reads as a float once the text is not an integer. */
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
/** Go's `strconv.ParseFloat` of a text that starts with a dot. */
const DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * go-yaml v2's value of a plain scalar. Its first character decides what it may be: a sign or a
 * digit a number (underscores dropped; an integer as Go's `ParseInt(text, 0, 64)` reads it, else
 * `ParseUint`, else a float), a dot a float, and the fixed spellings of null, the booleans and the
 * infinities are looked up whole. Anything else, and whatever fails, is the text itself.
 */
export function resolvePlain(text: string): Resolved {
  if (NULLS.has(text)) return null;
  if (TRUES.has(text)) return true;
  if (FALSES.has(text)) return false;
  const special = SPECIAL_FLOATS.get(text);
  if (special !== undefined) return { float: special };
  const first = text[0] ?? '';
  if (first === '.') return DOT_FLOAT.test(text) ? finiteFloat(text) ?? text : text;
  if (!/[-+0-9]/.test(first)) return text;
  const plain = text.replaceAll('_', '');
  const int = goParseInt(plain, true) ?? goParseInt(plain, false);
  if (int !== undefined) return { int };
  return (YAML_FLOAT.test(plain) && finiteFloat(plain)) || text;
}

/** Go's `ParseFloat`, which refuses a value beyond the float64 range (and so leaves the text a string). */
function finiteFloat(text: string): { float: number } | undefined {
  const float = Number(text);
  return Number.isFinite(float) ? { float } : undefined;
}

/**
 * Go's `strconv.ParseInt(text, 0, 64)` (`signed`) or `ParseUint(text, 0, 64)`: a sign (signed
 * only), then `0x`, `0b`, `0o` or a leading `0` (octal) in either case, or decimal; within range.
 */
function goParseInt(text: string, signed: boolean): bigint | undefined {
  const sign = signed && (text[0] === '-' || text[0] === '+') ? text[0] : '';
  const body = text.slice(sign.length);
  const prefix = /^0[xXbBoO]/.test(body) ? body.slice(0, 2).toLowerCase() : '';
  const digits = prefix ? body.slice(2) : body;
  const pattern = prefix === '0x' ? /^[0-9a-fA-F]+$/ : prefix === '0b' ? /^[01]+$/ : prefix === '0o' || (digits.length > 1 && digits[0] === '0') ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!pattern.test(digits)) return undefined;
  const magnitude = BigInt(prefix ? `${prefix}${digits}` : digits.length > 1 && digits[0] === '0' ? `0o${digits}` : digits);
  const value = sign === '-' ? -magnitude : magnitude;
  if (signed ? value < INT64_MIN || value > INT64_MAX : value > UINT64_MAX) return undefined;
  return value;
}

/** The tags whose scalars go-yaml resolves by the tag; any other tag leaves the text as it is. */
type CoreTag = 'null' | 'bool' | 'int' | 'float' | 'str' | 'binary';
const CORE_TAGS = new Map<string, CoreTag>((['null', 'bool', 'int', 'float', 'str', 'binary'] as const).map((name) => [`tag:yaml.org,2002:${name}`, name]));

/**
 * go-yaml v2's guard against alias expansion (`allowedAliasRatio`): past 1,000 decoded nodes, of
 * which more than 100 came through an alias, their share may not exceed 99% (under 400,000 nodes),
 * falling to 10% at 4,000,000.
 */
function aliasRatioAllowed(decoded: number): number {
  if (decoded <= 400_000) return 0.99;
  if (decoded >= 4_000_000) return 0.1;
  return 0.99 - (0.89 * (decoded - 400_000)) / 3_600_000;
}

/** One document's JSON value, built as go-yaml v2 decodes it into `interface{}` and sigs.k8s.io/yaml converts it. */
class Converter {
  private decoded = 0;
  private aliased = 0;
  private aliasDepth = 0;
  /** The anchored nodes being expanded, to refuse one that contains an alias of itself. */
  private readonly expanding = new Set<unknown>();

  constructor(private readonly doc: Document.Parsed, private readonly lines: LineCounter) {}

  value(node: unknown): unknown {
    this.count();
    if (isAlias(node)) return this.throughAlias(node, (target) => this.value(target));
    if (isScalar(node)) return this.scalar(node);
    if (isSeq(node)) return node.items.map((item) => this.value(item));
    if (isMap(node)) return this.mapping(node, {});
    return null;
  }

  private count(): void {
    this.decoded++;
    if (this.aliasDepth > 0) this.aliased++;
    if (this.aliased > 100 && this.decoded > 1000 && this.aliased / this.decoded > aliasRatioAllowed(this.decoded)) {
      throw new RefusedYaml('the document contains excessive aliasing (go-yaml refuses it as kubectl reads it)');
    }
  }

  private throughAlias<T>(alias: Alias, read: (target: unknown) => T): T {
    const target = alias.resolve(this.doc);
    if (target === undefined) throw this.refuse(alias, `unknown anchor '${alias.source}' referenced`);
    if (this.expanding.has(target)) throw this.refuse(alias, `anchor '${alias.source}' value contains itself`);
    this.expanding.add(target);
    this.aliasDepth++;
    try {
      return read(target);
    } finally {
      this.aliasDepth--;
      this.expanding.delete(target);
    }
  }

  /** A mapping's pairs into `out` in order, later keys over earlier ones; `<<` merges as go-yaml v2 does (over what came before it). */
  private mapping(map: YAMLMap, out: Record<string, unknown>): Record<string, unknown> {
    const written = new Set<string>();
    for (const pair of map.items) {
      if (!isPair(pair)) continue;
      if (isMergeKey(pair.key)) {
        this.merge(pair.value, out);
        continue;
      }
      const key = this.key(pair.key);
      if (written.has(key)) throw this.refuse(pair.key, `the key ${JSON.stringify(key)} is written twice in this mapping (kubectl would keep the last one silently)`);
      written.add(key);
      setMember(out, key, this.value(pair.value));
    }
    return out;
  }

  /**
   * go-yaml v2's `merge`: the mapping (or each mapping of a sequence, the last first, so that the
   * earlier ones win) decoded into `out`, over the keys it already holds.
   */
  private merge(source: unknown, out: Record<string, unknown>): void {
    const items = isSeq(source) ? [...source.items].reverse() : [source];
    for (const item of items) {
      this.count();
      if (isAlias(item)) {
        this.throughAlias(item, (target) => {
          if (!isMap(target)) throw this.refuse(item, MERGE_NEEDS_MAP);
          this.count();
          this.mapping(target, out);
        });
      } else if (isMap(item)) {
        this.mapping(item, out);
      } else {
        throw this.refuse(item, MERGE_NEEDS_MAP);
      }
    }
  }

  /** A key as sigs.k8s.io/yaml writes it: text as it is, booleans and numbers as Go formats them. */
  private key(node: unknown): string {
    this.count();
    if (isAlias(node)) return this.throughAlias(node, (target) => this.key(target));
    if (!isScalar(node)) throw this.refuse(node, `a ${isSeq(node) ? 'sequence' : 'mapping'} cannot be a key of a JSON object`);
    const value = this.resolved(node);
    if (value === null) throw this.refuse(node, 'a null key cannot be a key of a JSON object');
    if (typeof value === 'string') return value;
    if (typeof value === 'boolean') return String(value);
    if ('int' in value) return value.int.toString();
    return formatFloat32(value.float);
  }

  private scalar(node: Scalar): unknown {
    const value = this.resolved(node);
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
    if ('int' in value) return Number(value.int);
    if (!Number.isFinite(value.float)) throw this.refuse(node, `${String(node.value)} is not a number JSON can hold`);
    return value.float;
  }

  /** What go-yaml v2 makes of a scalar: plain ones resolved, quoted ones text, tagged ones by their tag. */
  private resolved(node: Scalar): Resolved {
    // The text as written (unescaped): the library resolves a few tags by itself even in its
    // failsafe schema (`!!timestamp` to a Date, `!!binary` to bytes), which go-yaml does not.
    const text = typeof node.source === 'string' ? node.source : String(node.value);
    const tag = node.tag === undefined ? undefined : CORE_TAGS.get(node.tag);
    if (node.tag !== undefined && tag === undefined) return text;
    if (tag === undefined) return node.type === Scalar.PLAIN ? resolvePlain(text) : text;
    if (tag === 'str') return text;
    if (tag === 'binary') return Buffer.from(text, 'base64').toString('utf8');
    const value = resolvePlain(text);
    const kind = value === null ? 'null' : typeof value === 'boolean' ? 'bool' : typeof value === 'string' ? 'str' : 'int' in value ? 'int' : 'float';
    if (kind === tag) return value;
    // go-yaml reads an integer tagged !!float as that float.
    if (tag === 'float' && typeof value === 'object' && value !== null && 'int' in value) return { float: Number(value.int) };
    throw this.refuse(node, `cannot decode !!${kind} \`${text}\` as a !!${tag}`);
  }

  private refuse(node: unknown, reason: string): RefusedYaml {
    const offset = (node as ParsedNode | undefined)?.range?.[0];
    return new RefusedYaml(reason, offset === undefined ? undefined : this.lines.linePos(offset));
  }
}

const MERGE_NEEDS_MAP = 'a merge (<<) needs a mapping or a sequence of mappings';

/** A plain `<<` key, which the library's merge tag resolves to a symbol. */
function isMergeKey(node: unknown): boolean {
  return isScalar(node) && typeof node.value === 'symbol' && node.value.description === '<<';
}

/** Sets a member, `__proto__` included, as JSON.parse would: an own property, never the prototype. */
function setMember(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
  else out[key] = value;
}

/**
 * Go's `strconv.FormatFloat(x, 'g', -1, 32)`, which sigs.k8s.io/yaml writes a float key with: the
 * shortest decimal that reads back as the same float32, in exponent form (`1e+20`,
 * `1.2345679e+08`) when its exponent is below -4 or at least 6.
 */
export function formatFloat32(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const single = Math.fround(x);
  if (single === 0) return Object.is(single, -0) ? '-0' : '0';
  let exponential = single.toExponential(0);
  for (let digits = 1; digits <= 9; digits++) {
    exponential = single.toExponential(digits - 1);
    if (Math.fround(Number(exponential)) === single) break;
  }
  const [mantissa = '', power = '0'] = exponential.split('e');
  const exponent = Number(power);
  if (exponent < -4 || exponent >= 6) return `${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  const negative = mantissa.startsWith('-');
  const figures = mantissa.replace('-', '').replace('.', '');
  const point = exponent + 1;
  const text = point <= 0 ? `0.${'0'.repeat(-point)}${figures}` : point >= figures.length ? figures + '0'.repeat(point - figures.length) : `${figures.slice(0, point)}.${figures.slice(point)}`;
  return negative ? `-${text}` : text;
}
