/**
 * A fast path for the common shape of guardrail expressions: field selection (plain and optional),
 * `orValue`, `has`, `all`/`exists` over lists, `&&`, `||`, `!`, `?:`, `==`/`!=` of strings, bools and
 * ints, int comparisons, `size`, `dyn`, `startsWith`/`endsWith`/`contains`, `matches` with a literal
 * pattern, `cidr()`/`ip()` and the `containsIP`, `containsCIDR`, `prefixLength`, `ip` and `family`
 * methods, `+` of two strings, and literals. Such an expression is also compiled to one JavaScript
 * function, which evaluates it several times faster than the library's tree walk (issue 11: CEL was
 * the largest part of a realistic Pod's review). A validation's function must yield a bool, a
 * `messageExpression`'s a string.
 *
 * The function reads the request's JSON values as they are, reading a number as the conversion for
 * the library would (./activation.ts: an integer within int64 is an int), so a request whose
 * expressions it answers is never converted. It only ever answers where the answer is plain: a
 * value of the expected kind reached by operations on the values it expects. Anything else (a
 * missing field, a value of another type, a double, a map with a `constructor` key, an object that
 * is not plain JSON, a result that is not a bool) makes it give up, and the library evaluates the
 * expression as before, errors and their messages included. So the library stays the one
 * definition of what an expression means; `test/cel/fast-path.test.ts` holds the functions to it
 * over generated objects.
 *
 * How the function is made (ADR 20). Its text is built from the fixed templates below only: the
 * names in it are the ones this file makes (`v1`, `L2`, ...), and everything that comes from the
 * expression (literals, field names, comprehension variables, patterns) is an entry of the
 * constants array `k`, read as `k[3]`; no text of the expression is ever part of the code. The
 * helpers it calls come in `h`. Where code cannot be made from text at all
 * (`--disallow-code-generation-from-strings`), there is no fast path and the library evaluates
 * every expression.
 *
 * The cooperative time bound is asked at every step of `all` and `exists`, as the library's hook
 * does (./deadline.ts).
 */
import { CEL_MAP_PROTOTYPE, isCelInt } from './activation.js';
import { checkCelDeadline } from './deadline.js';
import { CEL_VARIABLES, type CelVariableName } from './environment.js';
import { RENAMED_METHODS } from './internal-names.js';
import { CelCIDR, CelIP, parseCIDR, parseIP } from './network.js';
import { literalPattern } from './regex.js';

/** Evaluates with the request's variables; throws `GIVE_UP` (or anything) for the library to decide. */
export type FastPath = (variables: Readonly<Record<string, unknown>>) => unknown;

/** Thrown by the function when the answer is not plain: the library evaluates the expression. */
export const GIVE_UP: unique symbol = Symbol('tierguard.cel.giveUp');

const VARIABLES = Object.keys(CEL_VARIABLES) as CelVariableName[];
const EMPTY_LIST: readonly unknown[] = Object.freeze([]);
const EMPTY_MAP: object = Object.freeze(Object.create(CEL_MAP_PROTOTYPE) as object);

interface Node {
  readonly op: string;
  readonly args: unknown;
}

/** The names in scope, each with the local that holds it. */
type Scope = ReadonlyMap<string, string>;

class Unsupported extends Error {}

function giveUp(): never {
  throw GIVE_UP;
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && typeof (value as Node).op === 'string';
}

function node(value: unknown): Node {
  if (!isNode(value)) throw new Unsupported();
  return value;
}

function nodes(value: unknown, count: number): Node[] {
  if (!Array.isArray(value) || value.length !== count) throw new Unsupported();
  return value.map(node);
}

/**
 * A JSON object as the library reads a map: a plain object (or one the conversion made) without a
 * `constructor` key, which the conversion makes a `Map` (./activation.ts).
 */
function isMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return (prototype === Object.prototype || prototype === CEL_MAP_PROTOTYPE || prototype === null) && !Object.hasOwn(value, 'constructor');
}

/** The member the library finds: the conversion leaves out members whose value is `undefined`. */
function member(map: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

/** A CEL int: a bigint, or a JSON number the conversion makes one (`isCelInt`); else undefined. */
function intOf(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  return typeof value === 'number' && isCelInt(value) ? BigInt(value) : undefined;
}

function bool(value: unknown): boolean {
  return typeof value === 'boolean' ? value : giveUp();
}

/** `==` of two strings, two bools or two ints; any other pair is the library's. */
function equal(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' || typeof a === 'boolean') return typeof b === typeof a ? a === b : giveUp();
  const x = intOf(a);
  const y = intOf(b);
  return x !== undefined && y !== undefined ? x === y : giveUp();
}

function int(value: unknown): bigint {
  const found = intOf(value);
  return found === undefined ? giveUp() : found;
}

function concat(a: unknown, b: unknown): string {
  return typeof a === 'string' && typeof b === 'string' ? a + b : giveUp();
}

function sizeOf(value: unknown): bigint {
  if (Array.isArray(value)) return BigInt(value.length);
  if (!isMap(value)) giveUp();
  let size = 0;
  for (const key of Object.keys(value)) if (value[key] !== undefined) size++;
  return BigInt(size);
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : giveUp();
}

/** The library's value for a valid text (the same object: parses are remembered); for any other text the library reports its error. */
function cidrOf(value: unknown): CelCIDR {
  return (typeof value === 'string' && parseCIDR(value)) || giveUp();
}

function ipOf(value: unknown): CelIP {
  return (typeof value === 'string' && parseIP(value)) || giveUp();
}

/** An IP from `containsIP`'s argument: an IP, or a text the library parses to one. */
function ipArgument(value: unknown): CelIP {
  return value instanceof CelIP ? value : ipOf(value);
}

function cidrArgument(value: unknown): CelCIDR {
  return value instanceof CelCIDR ? value : cidrOf(value);
}

function cidrReceiver(value: unknown): CelCIDR {
  return value instanceof CelCIDR ? value : giveUp();
}

type StringTest = (value: unknown, argument: unknown) => boolean;

const STRING_TESTS: Readonly<Record<string, StringTest>> = {
  startsWith: (value, argument) => (typeof value === 'string' && typeof argument === 'string' ? value.startsWith(argument) : giveUp()),
  endsWith: (value, argument) => (typeof value === 'string' && typeof argument === 'string' ? value.endsWith(argument) : giveUp()),
  contains: (value, argument) => (typeof value === 'string' && typeof argument === 'string' ? value.includes(argument) : giveUp()),
};

/** A `net.CIDR` or `net.IP` method: how many arguments it takes, and its value. */
interface NetworkMethod {
  readonly arity: 0 | 1;
  readonly run: (receiver: unknown, argument: unknown) => unknown;
}

/** The `net.CIDR` and `net.IP` methods, as ./network-functions.ts registers them, on a receiver of their type. */
const NETWORK_METHODS: Readonly<Record<string, NetworkMethod>> = {
  containsIP: { arity: 1, run: (receiver, argument) => cidrReceiver(receiver).containsIP(ipArgument(argument)) },
  containsCIDR: { arity: 1, run: (receiver, argument) => cidrReceiver(receiver).containsCIDR(cidrArgument(argument)) },
  prefixLength: { arity: 0, run: (receiver) => BigInt(cidrReceiver(receiver).prefixLength) },
  ip: { arity: 0, run: (receiver) => cidrReceiver(receiver).ip },
  family: { arity: 0, run: (receiver) => (receiver instanceof CelIP ? BigInt(receiver.family) : giveUp()) },
};

/** What the generated code calls, by the names it uses. */
const HELPERS = { isMap, member, bool, equal, int, concat, sizeOf, list, cidrOf, ipOf, giveUp, deadline: checkCelDeadline };
const HELPER_NAMES = Object.keys(HELPERS);

/** What the expression must yield: a validation's bool, or a `messageExpression`'s string. */
export type FastPathResult = 'bool' | 'string';

/** The function of a parsed and checked expression, or undefined when it has a form it does not cover. */
export function compileFastPath(ast: unknown, result: FastPathResult = 'bool'): FastPath | undefined {
  const code = new Code();
  let value: string;
  try {
    value = code.emit(node(ast), new Map(VARIABLES.map((name, i) => [name, `a${i}`])));
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
  const variables = VARIABLES.map((name, i) => `const a${i} = vars[k[${code.constant(name)}]];`);
  const check = result === 'bool' ? `typeof ${value} === 'boolean'` : `typeof ${value} === 'string'`;
  const body = [
    `'use strict';`,
    `const { ${HELPER_NAMES.join(', ')} } = h;`,
    `return function celFastPath(vars) {`,
    ...variables,
    ...code.lines,
    `return ${check} ? ${value} : giveUp();`,
    `};`,
  ].join('\n');
  let make: (k: readonly unknown[], h: typeof HELPERS) => FastPath;
  try {
    // The text above is made of this file's templates only (see the header).
    make = new Function('k', 'h', body) as typeof make;
  } catch (error) {
    // Code from text is turned off in this process: the library evaluates.
    if (error instanceof EvalError) return undefined;
    throw error;
  }
  return make(Object.freeze(code.constants), HELPERS);
}

/** The code of one expression being made: its statements, constants and generated names. */
class Code {
  readonly constants: unknown[] = [];
  lines: string[] = [];
  #names = 0;

  /** `k[i]` for a value from the expression (never written into the code). */
  constant(value: unknown): number {
    this.constants.push(value);
    return this.constants.length - 1;
  }

  /**
   * The member `key` of the map in `value`, or undefined. Read in place, so that each read has its
   * own inline cache; a key that `Object.prototype` has (`constructor`, `toString`, ...) is only
   * found when the map has it itself. A map's prototype has no other properties (`isMap`).
   */
  member(value: string, key: string): string {
    return key in Object.prototype ? `member(${value}, k[${this.constant(key)}])` : `${value}[k[${this.constant(key)}]]`;
  }

  name(prefix: 'v' | 'L' | 'i'): string {
    return `${prefix}${++this.#names}`;
  }

  /** A new local set to `expression`. */
  local(expression: string): string {
    const name = this.name('v');
    this.lines.push(`let ${name} = ${expression};`);
    return name;
  }

  /** The statements `write` makes, for a block of their own (whose locals stay in it). */
  block(write: () => void): string[] {
    const outer = this.lines;
    this.lines = [];
    try {
      write();
      return this.lines;
    } finally {
      this.lines = outer;
    }
  }

  /** Writes the statements that compute `n`'s plain value (never none), and returns the expression that holds it. */
  emit(n: Node, scope: Scope): string {
    const emitter = Object.hasOwn(EMITTERS, n.op) ? EMITTERS[n.op] : undefined;
    if (!emitter) throw new Unsupported();
    return emitter(this, n, scope);
  }

  /** `a.b` and `a['b']`, and chains of them: a field the map has. */
  emitSelect(n: Node, scope: Scope): string {
    const [base, keys] = chainOf(n, (step) => step.op === '.' || step.op === '[]');
    const value = this.local(this.emit(base, scope));
    for (const key of keys) this.lines.push(`if (!isMap(${value})) giveUp();`, `${value} = ${this.member(value, key)};`, `if (${value} === undefined) giveUp();`);
    return value;
  }

  emitCondition(n: Node, scope: Scope): string {
    const [condition, whenTrue, whenFalse] = nodes(n.args, 3) as [Node, Node, Node];
    const value = this.local('undefined');
    const test = this.emit(condition, scope);
    const yes = this.block(() => this.lines.push(`${value} = ${this.emit(whenTrue, scope)};`));
    const no = this.block(() => this.lines.push(`${value} = ${this.emit(whenFalse, scope)};`));
    this.lines.push(`if (bool(${test})) {`, ...yes, `} else {`, ...no, `}`);
    return value;
  }

  /** A local set to `template` with the values of `n`'s two operands put in for `$1` and `$2`. */
  emitBinary(n: Node, scope: Scope, template: string): string {
    const [left, right] = nodes(n.args, 2).map((operand) => this.emit(operand, scope)) as [string, string];
    return this.local(template.replace('$1', () => left).replace('$2', () => right));
  }

  /**
   * The library's answer when the left side decides, whatever the right side would do (an error
   * there included); otherwise the right side's, which must be a bool.
   */
  emitLogic(n: Node, scope: Scope): string {
    const [left, right] = nodes(n.args, 2) as [Node, Node];
    const value = this.local(`bool(${this.emit(left, scope)})`);
    const decides = n.op === '||' ? value : `!${value}`;
    const rest = this.block(() => this.lines.push(`${value} = bool(${this.emit(right, scope)});`));
    this.lines.push(`if (!(${decides})) {`, ...rest, `}`);
    return value;
  }

  emitCall(n: Node, scope: Scope): string {
    const [name, argNodes] = n.args as [unknown, unknown];
    if (!Array.isArray(argNodes) || argNodes.length !== 1) throw new Unsupported();
    const argNode = node(argNodes[0]);
    switch (name) {
      case 'dyn':
        return this.emit(argNode, scope);
      case 'size':
        return this.local(`sizeOf(${this.emit(argNode, scope)})`);
      case 'cidr':
        return this.local(`cidrOf(${this.emit(argNode, scope)})`);
      case 'ip':
        return this.local(`ipOf(${this.emit(argNode, scope)})`);
      case 'has': {
        // `has(a.b.c)`: the chain up to the last field as plain selections, then its presence.
        if (argNode.op !== '.') throw new Unsupported();
        const [receiverNode, key] = argNode.args as [unknown, unknown];
        if (typeof key !== 'string' || !plainChain(node(receiverNode))) throw new Unsupported();
        const receiver = this.emit(node(receiverNode), scope);
        return this.local(`isMap(${receiver}) ? ${this.member(receiver, key)} !== undefined : giveUp()`);
      }
      default:
        throw new Unsupported();
    }
  }

  emitMethod(n: Node, scope: Scope): string {
    const [name, receiverNode, argNodes] = n.args as [unknown, unknown, unknown];
    if (typeof name !== 'string' || !Array.isArray(argNodes)) throw new Unsupported();
    if (name === 'orValue') return this.emitOrValue(node(receiverNode), nodes(argNodes, 1)[0] as Node, scope);
    if (name === 'all' || name === 'exists') return this.emitComprehension(name, node(receiverNode), nodes(argNodes, 2) as [Node, Node], scope);
    const receiver = this.emit(node(receiverNode), scope);
    if (name === 'size') {
      if (argNodes.length !== 0) throw new Unsupported();
      return this.local(`sizeOf(${receiver})`);
    }
    const test = Object.hasOwn(STRING_TESTS, name) ? STRING_TESTS[name] : undefined;
    if (test) {
      const [argument] = nodes(argNodes, 1).map((child) => this.emit(child, scope)) as [string];
      return this.local(`k[${this.constant(test)}](${receiver}, ${argument})`);
    }
    if (name === RENAMED_METHODS.matches.internal) {
      // `s.matches(re)` with the pattern written in the expression: the library's own compiled RE2.
      const [patternNode] = nodes(argNodes, 1) as [Node];
      const pattern = literalPattern(literalKey(patternNode));
      if (!pattern) throw new Unsupported();
      return this.local(`typeof ${receiver} === 'string' ? k[${this.constant(pattern)}].test(${receiver}) : giveUp()`);
    }
    const network = Object.hasOwn(NETWORK_METHODS, name) ? NETWORK_METHODS[name] : undefined;
    if (network) {
      const [argument = 'undefined'] = nodes(argNodes, network.arity).map((child) => this.emit(child, scope));
      return this.local(`k[${this.constant(network.run)}](${receiver}, ${argument})`);
    }
    throw new Unsupported();
  }

  /** `a.?b.?c.orValue(x)`: the chain's value, or `x` (evaluated only then, as the library does) from the first field missing. */
  emitOrValue(receiver: Node, fallback: Node, scope: Scope): string {
    if (receiver.op !== '.?' && receiver.op !== '[?]') throw new Unsupported();
    const [base, keys] = chainOf(receiver, (step) => step.op === '.?' || step.op === '[?]');
    const value = this.local(this.emit(base, scope));
    const found = this.name('L');
    const steps = keys.map((key) => `if (!isMap(${value})) giveUp(); ${value} = ${this.member(value, key)}; if (${value} === undefined) break ${found};`);
    const otherwise = this.block(() => this.lines.push(`${value} = ${this.emit(fallback, scope)};`));
    this.lines.push(`${found}: {`, ...steps, `}`);
    this.lines.push(`if (${value} === undefined) {`, ...otherwise, `}`);
    return value;
  }

  /** all: false at the first false; exists: true at the first true (as the library's loop stops). */
  emitComprehension(name: 'all' | 'exists', receiver: Node, [variable, predicate]: [Node, Node], scope: Scope): string {
    if (variable.op !== 'id' || typeof variable.args !== 'string') throw new Unsupported();
    const items = this.local(`list(${this.emit(receiver, scope)})`);
    const decisive = name === 'exists';
    const value = this.local(String(!decisive));
    const index = this.name('i');
    const item = this.name('v');
    const inner = new Map(scope).set(variable.args, item);
    const step = this.block(() => {
      const answer = this.emit(predicate, inner);
      this.lines.push(`if (bool(${answer}) === ${String(decisive)}) { ${value} = ${String(decisive)}; break; }`);
    });
    this.lines.push(`for (let ${index} = 0; ${index} < ${items}.length; ${index}++) {`, `deadline();`, `const ${item} = ${items}[${index}];`, ...step, `}`);
    return value;
  }
}

type Emitter = (code: Code, n: Node, scope: Scope) => string;

/** Two strings (a message built from the object); any other sum is the library's, and one with a literal that is not a string is never tried. */
const emitConcat: Emitter = (code, n, scope) => {
  if (nodes(n.args, 2).some((operand) => operand.op === 'value' && typeof operand.args !== 'string')) throw new Unsupported();
  return code.emitBinary(n, scope, 'concat($1, $2)');
};

/** How each operation the fast path covers is written. */
const EMITTERS: Readonly<Record<string, Emitter>> = {
  value: (code, n) => {
    const value = n.args;
    if (value !== null && typeof value !== 'string' && typeof value !== 'boolean' && typeof value !== 'bigint') throw new Unsupported();
    return `k[${code.constant(value)}]`;
  },
  // The empty list and map (what `orValue([])` and `orValue({})` fall back to).
  list: (code, n) => {
    if (!Array.isArray(n.args) || n.args.length > 0) throw new Unsupported();
    return `k[${code.constant(EMPTY_LIST)}]`;
  },
  map: (code, n) => {
    if (!Array.isArray(n.args) || n.args.length > 0) throw new Unsupported();
    return `k[${code.constant(EMPTY_MAP)}]`;
  },
  id: (_code, n, scope) => {
    const local = typeof n.args === 'string' ? scope.get(n.args) : undefined;
    if (local === undefined) throw new Unsupported();
    return local;
  },
  '.': (code, n, scope) => code.emitSelect(n, scope),
  '[]': (code, n, scope) => code.emitSelect(n, scope),
  '!_': (code, n, scope) => code.local(`!bool(${code.emit(node(n.args), scope)})`),
  '&&': (code, n, scope) => code.emitLogic(n, scope),
  '||': (code, n, scope) => code.emitLogic(n, scope),
  '?:': (code, n, scope) => code.emitCondition(n, scope),
  '+': emitConcat,
  // Two strings, two bools or two ints; any other pair is the library's (`equal`).
  '==': (code, n, scope) => code.emitBinary(n, scope, 'equal($1, $2)'),
  '!=': (code, n, scope) => code.emitBinary(n, scope, '!equal($1, $2)'),
  // Two ints.
  '<': (code, n, scope) => code.emitBinary(n, scope, 'int($1) < int($2)'),
  '<=': (code, n, scope) => code.emitBinary(n, scope, 'int($1) <= int($2)'),
  '>': (code, n, scope) => code.emitBinary(n, scope, 'int($1) > int($2)'),
  '>=': (code, n, scope) => code.emitBinary(n, scope, 'int($1) >= int($2)'),
  call: (code, n, scope) => code.emitCall(n, scope),
  rcall: (code, n, scope) => code.emitMethod(n, scope),
};

/** The node a chain of selections starts from, and its keys from there on. */
function chainOf(n: Node, isStep: (step: Node) => boolean): [Node, string[]] {
  const keys: string[] = [];
  let base = n;
  while (isStep(base)) {
    keys.push(selectedKey(base));
    base = node((base.args as unknown[])[0]);
  }
  return [base, keys.reverse()];
}

/** The field of `a.b` and `a.?b`, or the string literal of `a['b']` and `a[?'b']`. */
function selectedKey(n: Node): string {
  const keyNode = Array.isArray(n.args) ? (n.args[1] as unknown) : undefined;
  const key = n.op === '.' || n.op === '.?' ? keyNode : literalKey(node(keyNode));
  if (typeof key !== 'string') throw new Unsupported();
  return key;
}

function literalKey(keyNode: Node): string {
  if (keyNode.op !== 'value' || typeof keyNode.args !== 'string') throw new Unsupported();
  return keyNode.args;
}

/** `id` followed by plain field selections only, as the library reads the argument of `has`. */
function plainChain(n: Node): boolean {
  let current = n;
  while (current.op === '.') current = node((current.args as unknown[])[0]);
  return current.op === 'id';
}
