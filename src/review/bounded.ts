/**
 * The time bound for policy code run on one request (CEL evaluation), two ways:
 * - hard: the work runs under a `vm` watchdog that terminates it when the bound passes, however it
 *   loops. The watchdog starts and joins a thread on every call: about 0.1 ms idle, and under load
 *   the join waits for the thread to be scheduled (see ../engine/cel/deadline.ts);
 * - cooperative: the deadline is asked at every CEL comprehension step and between expressions
 *   (../engine/cel/deadline.ts), for the requests whose expressions and size keep the work between
 *   two checks small. The engine chooses (../engine/validations.ts).
 */
import vm from 'node:vm';
import { performance } from 'node:perf_hooks';
import { evaluateWithin } from '../engine/cel/index.js';
import type { BoundedRunner } from '../engine/validations.js';

export function boundedRunner(timeoutMs: number): BoundedRunner {
  const context = vm.createContext({ task: undefined as (() => unknown) | undefined });
  const script = new vm.Script('task()');
  const run = <T>(fn: () => T): T => {
    context.task = fn;
    try {
      return script.runInContext(context, { timeout: timeoutMs, breakOnSigint: false }) as T;
    } finally {
      context.task = undefined;
    }
  };
  const cooperative = <T>(fn: () => T): T => {
    const deadline = performance.now() + timeoutMs;
    return evaluateWithin(() => performance.now() >= deadline, fn);
  };
  return Object.assign(run, { timeoutMs, cooperative });
}
