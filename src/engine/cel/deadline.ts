/**
 * A cooperative time bound for CEL evaluation, for expressions whose every costly part is a loop.
 *
 * The hard bound (`vm` with a timeout, in ../../admission/bounded.ts) starts and joins a watchdog
 * thread on every call: about 0.1 ms of CPU on an idle machine, and on a busy one the join waits for the
 * thread to be scheduled (in the bench, Pod reviews with the realistic set took 2.65 ms of CPU
 * each with it, 1.6 ms with this bound). This bound instead asks
 * the caller's clock at every step of a comprehension (`all`, `exists`, `exists_one`), and the
 * caller asks it between expressions: an expression stops at its first step after the deadline.
 *
 * That bounds the time only when the work between two steps is bounded too. It is, for an
 * expression without the macros and functions that build values larger than their input
 * (`map`, `filter`, `cel.bind`, `replace`): every other operation reads the request's values or
 * values made from them by the expression's own nodes, so the work between steps is at most about
 * the expression's nodes times the request's size. `cooperativeShape` says which expressions are
 * such, and how many nodes they have; the caller uses the hard bound for the others and for
 * objects too large for the product to stay small.
 */
import type { Environment } from '@marcbachmann/cel-js';

/** Thrown at the first comprehension step after the deadline; its message reads as a timeout. */
export class CelDeadlineError extends Error {
  constructor() {
    super('CEL evaluation timed out');
    this.name = 'CelDeadlineError';
  }
}

let expired: (() => boolean) | undefined;

/**
 * Runs `fn` (CEL evaluations) with `isExpired` asked at every comprehension step; throws
 * `CelDeadlineError` from the first step after it says yes. Not reentrant across awaits (CEL
 * evaluation here is synchronous).
 */
export function evaluateWithin<T>(isExpired: () => boolean, fn: () => T): T {
  const outer = expired;
  expired = isExpired;
  try {
    return fn();
  } finally {
    expired = outer;
  }
}

/** Throws `CelDeadlineError` when a bound set by `evaluateWithin` has passed; between expressions. */
export function checkCelDeadline(): void {
  if (expired?.()) throw new CelDeadlineError();
}

/** The shape of a parsed expression that decides which bound it gets. */
export interface CooperativeShape {
  /** Nodes of the parsed tree (before macro expansion). */
  readonly nodes: number;
  /** No `map`, `filter`, `cel.bind` or `replace`: the cooperative bound holds (see the module comment). */
  readonly cooperative: boolean;
  /** Every identifier it reads (variables, and comprehension variables, which may shadow them). */
  readonly identifiers: ReadonlySet<string>;
}

/** Method calls that can build a value larger than their input (logical size): the hard bound. */
const BUILDERS = new Set(['map', 'filter', 'bind', 'replace']);

interface Node {
  readonly op: string;
  readonly args: unknown;
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && typeof (value as Node).op === 'string';
}

/** Walks the parsed tree (the library's documented `op`/`args` shape, as ./rewrite.ts does). */
export function cooperativeShape(ast: unknown): CooperativeShape {
  let nodes = 0;
  let cooperative = true;
  const identifiers = new Set<string>();
  const pending: unknown[] = [ast];
  while (pending.length > 0) {
    const item = pending.pop();
    if (Array.isArray(item)) {
      for (const child of item) pending.push(child);
      continue;
    }
    if (!isNode(item)) continue;
    nodes++;
    if (item.op === 'value') continue;
    if (item.op === 'id' && typeof item.args === 'string') identifiers.add(item.args);
    if ((item.op === 'rcall' || item.op === 'call') && Array.isArray(item.args) && BUILDERS.has(item.args[0] as string)) cooperative = false;
    pending.push(item.args);
  }
  return { nodes, cooperative, identifiers };
}

let hooked = false;

/**
 * Makes every comprehension step of `env`'s library ask the bound. The library has no hook for
 * this: its iteration context (not exported) is found through a macro's type check, and its
 * `setIterValue`, called once per step and per `cel.bind`, is wrapped. Throws when the library's
 * shape is not the one this was written for (pinned version), so that an upgrade cannot silently
 * drop the bound.
 */
export function installDeadlineHook(env: Environment): void {
  if (hooked) return;
  const probe = env.clone({});
  let iterationContext: { setIterValue?: unknown } | undefined;
  probe.registerFunction('CelNamespace.__tierguardProbe(ast): bool', (({ ast }: { ast: unknown }) => ({
    ast,
    typeCheck(checker: { boolType: unknown }, _macro: unknown, ctx: object) {
      iterationContext ??= Object.getPrototypeOf(ctx) as { setIterValue?: unknown };
      return checker.boolType;
    },
    evaluate: () => true,
  })) as never);
  const checked = probe.parse('[1].all(x, cel.__tierguardProbe(x))').check();
  const original = iterationContext?.setIterValue;
  if (!checked.valid || !iterationContext || typeof original !== 'function') {
    throw new Error('@marcbachmann/cel-js: no iteration context with setIterValue found; the CEL deadline hook needs the pinned version');
  }
  iterationContext.setIterValue = function setIterValue(this: unknown, ...args: unknown[]) {
    if (expired?.()) throw new CelDeadlineError();
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  hooked = true;
}
