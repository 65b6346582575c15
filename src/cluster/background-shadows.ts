/**
 * The can-never-apply analysis of a set in force, run in slices of the event loop: it only
 * produces warnings, so it never holds back a request, a probe or the next reload. A newer set
 * cancels the analysis of the one before.
 */
import type { PolicySet } from '../engine/policy-set.js';
import { shadowBoundWarning, shadowSteps, shadowWarning } from '../engine/network/shadow.js';

/** Longest run between two turns of the event loop; one guardrail's judgement is not cut. */
const SLICE_MS = 10;

export interface BackgroundAnalysis {
  cancel(): void;
}

/**
 * @example
 * const analysis = analyseShadowsInBackground(set, (warnings) => warnings.forEach((w) => logger.warn(w)));
 */
export function analyseShadowsInBackground(set: PolicySet, onDone: (warnings: readonly string[]) => void): BackgroundAnalysis {
  const steps = shadowSteps(set);
  let cancelled = false;
  let timer: NodeJS.Immediate | undefined;
  const slice = (): void => {
    timer = undefined;
    if (cancelled) return;
    const end = performance.now() + SLICE_MS;
    for (;;) {
      const step = steps.next();
      if (step.done) {
        const bound = shadowBoundWarning(step.value);
        onDone([...step.value.shadowed.map(shadowWarning), ...(bound ? [bound] : [])]);
        return;
      }
      if (performance.now() >= end) break;
    }
    timer = setImmediate(slice);
  };
  timer = setImmediate(slice);
  return {
    cancel() {
      cancelled = true;
      if (timer) clearImmediate(timer);
    },
  };
}
