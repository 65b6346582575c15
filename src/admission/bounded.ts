/**
 * A hard time bound for policy code run on one request (CEL evaluation): the work runs under a
 * `vm` watchdog that terminates it when the bound passes, however it loops. The watchdog costs
 * about 50 µs per call, so it is only used when a request has CEL validations to evaluate.
 */
import vm from 'node:vm';
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
  return Object.assign(run, { timeoutMs });
}
