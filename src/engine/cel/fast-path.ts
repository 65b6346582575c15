/**
 * A fast path for the common shape of guardrail expressions: field selection (plain and optional),
 * `orValue`, `has`, `all`/`exists` over lists, `&&`, `||`, `!`, `?:`, `==`/`!=` of strings, bools and
 * ints, int comparisons, `size`, `dyn`, `startsWith`/`endsWith`/`contains`, `matches` with a literal
 * pattern, `cidr()`/`ip()` and the `containsIP`, `containsCIDR`, `prefixLength`, `ip` and `family`
 * methods, `+` of two strings, and literals. Such an expression is also compiled to JavaScript
 * closures, which evaluate it several times faster than the library's tree walk (issue 11: CEL was
 * the largest part of a realistic Pod's review). A validation's closures must yield a bool, a
 * `messageExpression`'s a string.
 *
 * The closures read the request's JSON values as they are, reading a number as the conversion for
 * the library would (./activation.ts: an integer within int64 is an int), so a request whose
 * expressions they all answer is never converted. They only ever answer where the answer is plain:
 * a value of the expected kind reached by operations on the values they expect. Anything else (a
 * missing field, a value of another type, a double, a map with a `constructor` key, an object
 * that is not plain JSON, a result that is not a bool) makes them give up, and the library
 * evaluates the expression as before, errors and their messages included. So the library stays
 * the one definition of what an expression means; `test/cel/fast-path.test.ts` holds the closures
 * to it over generated objects.
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

/** Thrown by the closures when the answer is not plain: the library evaluates the expression. */
export const GIVE_UP: unique symbol = Symbol('tierguard.cel.giveUp');

/** The result of an optional selection that found nothing (`optional.none()`), inside a chain only. */
const NONE: unique symbol = Symbol('tierguard.cel.none');

/** Slots of one evaluation: the variables, then each comprehension variable. */
type Frame = unknown[];
type Closure = (frame: Frame) => unknown;

const VARIABLES = Object.keys(CEL_VARIABLES) as CelVariableName[];
const EMPTY_LIST: readonly unknown[] = Object.freeze([]);
const EMPTY_MAP: object = Object.freeze(Object.create(CEL_MAP_PROTOTYPE) as object);

interface Node {
  readonly op: string;
  readonly args: unknown;
}

/** The names in scope, each with its frame slot. */
type Scope = ReadonlyMap<string, number>;

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

/** What the expression must yield: a validation's bool, or a `messageExpression`'s string. */
export type FastPathResult = 'bool' | 'string';

/** The closures of a parsed and checked expression, or undefined when it has a form they do not cover. */
export function compileFastPath(ast: unknown, result: FastPathResult = 'bool'): FastPath | undefined {
  let slots = VARIABLES.length;
  const newSlot = () => slots++;
  let run: Closure;
  try {
    run = compile(node(ast), new Map(VARIABLES.map((name, i) => [name, i])), newSlot);
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
  const resultType = result === 'bool' ? 'boolean' : 'string';
  return (variables) => {
    const frame: Frame = new Array<unknown>(slots);
    for (let i = 0; i < VARIABLES.length; i++) frame[i] = variables[VARIABLES[i] as CelVariableName];
    const value = run(frame);
    if (typeof value !== resultType) giveUp();
    return value;
  };
}

/** A closure that yields a plain value (never `NONE`). */
function compile(n: Node, scope: Scope, newSlot: () => number): Closure {
  const compiler = Object.hasOwn(COMPILERS, n.op) ? COMPILERS[n.op] : undefined;
  if (!compiler) throw new Unsupported();
  return compiler(n, scope, newSlot);
}

type Compiler = (n: Node, scope: Scope, newSlot: () => number) => Closure;

const COMPILERS: Readonly<Record<string, Compiler>> = {
  value: compileLiteral,
  list: compileLiteral,
  map: compileLiteral,
  id: (n, scope) => {
    const slot = typeof n.args === 'string' ? scope.get(n.args) : undefined;
    if (slot === undefined) throw new Unsupported();
    return (frame) => frame[slot];
  },
  '.': compileSelect,
  '[]': compileSelect,
  '!_': (n, scope, newSlot) => {
    const operand = compile(node(n.args), scope, newSlot);
    return (frame) => {
      const value = operand(frame);
      return typeof value === 'boolean' ? !value : giveUp();
    };
  },
  '&&': compileLogic,
  '||': compileLogic,
  '?:': (n, scope, newSlot) => {
    const [condition, whenTrue, whenFalse] = nodes(n.args, 3).map((child) => compile(child, scope, newSlot)) as [Closure, Closure, Closure];
    return (frame) => {
      const value = condition(frame);
      if (value === true) return whenTrue(frame);
      return value === false ? whenFalse(frame) : giveUp();
    };
  },
  '+': (n, scope, newSlot) => {
    // Two strings (a message built from the object); any other sum is the library's, and one with
    // a literal that is not a string is never tried.
    const operands = nodes(n.args, 2);
    if (operands.some((operand) => operand.op === 'value' && typeof operand.args !== 'string')) throw new Unsupported();
    const [left, right] = operands.map((child) => compile(child, scope, newSlot)) as [Closure, Closure];
    return (frame) => {
      const a = left(frame);
      const b = right(frame);
      return typeof a === 'string' && typeof b === 'string' ? a + b : giveUp();
    };
  },
  '==': compileEquality,
  '!=': compileEquality,
  '<': compileComparison,
  '<=': compileComparison,
  '>': compileComparison,
  '>=': compileComparison,
  call: compileCall,
  rcall: compileMethod,
};

/** Strings, bools, ints and null; the empty list and map (what `orValue([])` and `orValue({})` fall back to). */
function compileLiteral(n: Node): Closure {
  if (n.op === 'value') {
    const value = n.args;
    if (value !== null && typeof value !== 'string' && typeof value !== 'boolean' && typeof value !== 'bigint') throw new Unsupported();
    return () => value;
  }
  if (!Array.isArray(n.args) || n.args.length > 0) throw new Unsupported();
  const empty = n.op === 'list' ? EMPTY_LIST : EMPTY_MAP;
  return () => empty;
}

/**
 * `a.b` and `a['b']`: a field the map has. A chain of them (`object.spec.template.spec`) is one
 * closure that walks its keys: a closure per step cost a call each, and the generated guardrails'
 * chains are long.
 */
function compileSelect(n: Node, scope: Scope, newSlot: () => number): Closure {
  const [base, keys] = chainOf(n, (step) => step.op === '.' || step.op === '[]');
  const receiver = compile(base, scope, newSlot);
  return (frame) => {
    let value = receiver(frame);
    for (let i = 0; i < keys.length; i++) {
      value = isMap(value) ? member(value, keys[i] as string) : undefined;
      if (value === undefined) giveUp();
    }
    return value;
  };
}

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

function compileLogic(n: Node, scope: Scope, newSlot: () => number): Closure {
  const [left, right] = nodes(n.args, 2).map((child) => compile(child, scope, newSlot)) as [Closure, Closure];
  // The library's answer when the left side decides, whatever the right side would do (an error
  // there included); otherwise the right side's, which must be a bool.
  const decisive = n.op === '||';
  return (frame) => {
    const first = left(frame);
    if (typeof first !== 'boolean') giveUp();
    if (first === decisive) return first;
    const second = right(frame);
    return typeof second === 'boolean' ? second : giveUp();
  };
}

/** Two strings, two bools or two ints; any other pair is the library's. */
function compileEquality(n: Node, scope: Scope, newSlot: () => number): Closure {
  const [left, right] = nodes(n.args, 2).map((child) => compile(child, scope, newSlot)) as [Closure, Closure];
  const negate = n.op === '!=';
  return (frame) => {
    const a = left(frame);
    const b = right(frame);
    if (typeof a === 'string' || typeof a === 'boolean') return typeof b === typeof a ? (a === b) !== negate : giveUp();
    const x = intOf(a);
    const y = intOf(b);
    return x !== undefined && y !== undefined ? (x === y) !== negate : giveUp();
  };
}

/** Two ints. */
function compileComparison(n: Node, scope: Scope, newSlot: () => number): Closure {
  const [left, right] = nodes(n.args, 2).map((child) => compile(child, scope, newSlot)) as [Closure, Closure];
  const compare = COMPARISONS[n.op] as (a: bigint, b: bigint) => boolean;
  return (frame) => {
    const a = intOf(left(frame));
    const b = intOf(right(frame));
    return a !== undefined && b !== undefined ? compare(a, b) : giveUp();
  };
}

const COMPARISONS: Readonly<Record<string, (a: bigint, b: bigint) => boolean>> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

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

/** A closure for an optional selection chain: a plain value, or `NONE` from the first field missing. */
function compileOptional(n: Node, scope: Scope, newSlot: () => number): Closure {
  if (n.op !== '.?' && n.op !== '[?]') return compile(n, scope, newSlot);
  const [base, keys] = chainOf(n, (step) => step.op === '.?' || step.op === '[?]');
  const receiver = compile(base, scope, newSlot);
  return (frame) => {
    let value = receiver(frame);
    for (let i = 0; i < keys.length; i++) {
      if (!isMap(value)) giveUp();
      value = member(value, keys[i] as string);
      if (value === undefined) return NONE;
    }
    return value;
  };
}

function compileCall(n: Node, scope: Scope, newSlot: () => number): Closure {
  const [name, argNodes] = n.args as [unknown, unknown];
  if (!Array.isArray(argNodes) || argNodes.length !== 1) throw new Unsupported();
  const argNode = node(argNodes[0]);
  switch (name) {
    case 'dyn':
      return compile(argNode, scope, newSlot);
    case 'size':
      return sizeOf(compile(argNode, scope, newSlot));
    case 'cidr':
    case 'ip': {
      // The library's value for a valid text (the same object: parses are remembered); for any
      // other text the library reports its error.
      const parse = name === 'cidr' ? parseCIDR : parseIP;
      const text = compile(argNode, scope, newSlot);
      return (frame) => {
        const value = text(frame);
        return (typeof value === 'string' && parse(value)) || giveUp();
      };
    }
    case 'has': {
      // `has(a.b.c)`: the chain up to the last field as plain selections, then its presence.
      if (argNode.op !== '.') throw new Unsupported();
      const [receiverNode, field] = argNode.args as [unknown, unknown];
      if (typeof field !== 'string' || !plainChain(node(receiverNode))) throw new Unsupported();
      const receiver = compile(node(receiverNode), scope, newSlot);
      return (frame) => {
        const value = receiver(frame);
        return isMap(value) ? member(value, field) !== undefined : giveUp();
      };
    }
    default:
      throw new Unsupported();
  }
}

/** `id` followed by plain field selections only, as the library reads the argument of `has`. */
function plainChain(n: Node): boolean {
  let current = n;
  while (current.op === '.') current = node((current.args as unknown[])[0]);
  return current.op === 'id';
}

function sizeOf(operand: Closure): Closure {
  return (frame) => {
    const value = operand(frame);
    if (Array.isArray(value)) return BigInt(value.length);
    if (!isMap(value)) giveUp();
    let size = 0;
    for (const key of Object.keys(value)) if (value[key] !== undefined) size++;
    return BigInt(size);
  };
}

/** An IP from `containsIP`'s argument: an IP, or a text the library parses to one. */
function ipArgument(value: unknown): CelIP {
  if (value instanceof CelIP) return value;
  return (typeof value === 'string' && parseIP(value)) || giveUp();
}

function cidrArgument(value: unknown): CelCIDR {
  if (value instanceof CelCIDR) return value;
  return (typeof value === 'string' && parseCIDR(value)) || giveUp();
}

function cidrReceiver(value: unknown): CelCIDR {
  return value instanceof CelCIDR ? value : giveUp();
}

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

const STRING_TESTS: Readonly<Record<string, (value: string, argument: string) => boolean>> = {
  startsWith: (value, argument) => value.startsWith(argument),
  endsWith: (value, argument) => value.endsWith(argument),
  contains: (value, argument) => value.includes(argument),
};

function compileMethod(n: Node, scope: Scope, newSlot: () => number): Closure {
  const [name, receiverNode, argNodes] = n.args as [unknown, unknown, unknown];
  if (typeof name !== 'string' || !Array.isArray(argNodes)) throw new Unsupported();
  if (name === 'orValue') {
    const [fallbackNode] = nodes(argNodes, 1) as [Node];
    const receiver = node(receiverNode);
    if (receiver.op !== '.?' && receiver.op !== '[?]') throw new Unsupported();
    const optional = compileOptional(receiver, scope, newSlot);
    const fallback = compile(fallbackNode, scope, newSlot);
    return (frame) => {
      const value = optional(frame);
      // As the library: the argument is evaluated only for an empty optional.
      return value === NONE ? fallback(frame) : value;
    };
  }
  const receiver = compile(node(receiverNode), scope, newSlot);
  if (name === 'size') {
    if (argNodes.length !== 0) throw new Unsupported();
    return sizeOf(receiver);
  }
  const test = Object.hasOwn(STRING_TESTS, name) ? STRING_TESTS[name] : undefined;
  if (test) {
    const [argument] = nodes(argNodes, 1).map((child) => compile(child, scope, newSlot)) as [Closure];
    return (frame) => {
      const value = receiver(frame);
      const other = argument(frame);
      return typeof value === 'string' && typeof other === 'string' ? test(value, other) : giveUp();
    };
  }
  if (name === RENAMED_METHODS.matches.internal) {
    // `s.matches(re)` with the pattern written in the expression: the library's own compiled RE2.
    const [patternNode] = nodes(argNodes, 1) as [Node];
    const pattern = literalPattern(literalKey(patternNode));
    if (!pattern) throw new Unsupported();
    return (frame) => {
      const value = receiver(frame);
      return typeof value === 'string' ? pattern.test(value) : giveUp();
    };
  }
  const network = Object.hasOwn(NETWORK_METHODS, name) ? NETWORK_METHODS[name] : undefined;
  if (network) {
    const { arity, run } = network;
    const [argument] = nodes(argNodes, arity).map((child) => compile(child, scope, newSlot));
    return argument ? (frame) => run(receiver(frame), argument(frame)) : (frame) => run(receiver(frame), undefined);
  }
  if (name === 'all' || name === 'exists') {
    const [variable, predicateNode] = nodes(argNodes, 2) as [Node, Node];
    if (variable.op !== 'id' || typeof variable.args !== 'string') throw new Unsupported();
    const slot = newSlot();
    const predicate = compile(predicateNode, new Map([...scope, [variable.args, slot]]), newSlot);
    // all: false at the first false; exists: true at the first true (as the library's loop stops).
    const decisive = name === 'exists';
    return (frame) => {
      const items = receiver(frame);
      if (!Array.isArray(items)) giveUp();
      for (const item of items) {
        checkCelDeadline();
        frame[slot] = item;
        const value = predicate(frame);
        if (typeof value !== 'boolean') giveUp();
        if (value === decisive) return decisive;
      }
      return !decisive;
    };
  }
  throw new Unsupported();
}
