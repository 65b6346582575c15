/**
 * V8 tuning for a process that compiles a policy set once and then answers requests against it
 * (ADR 16). Compiling a large set allocates thousands of label cubes, namespace sets and boxes that
 * all live on; V8 learns from that that the object literals of those functions make long-lived
 * objects, and from then on allocates what the same literals make during a check straight in the
 * old generation ("allocation-site pretenuring"). A check's objects die within the request, but
 * from the old generation they keep the young objects they point to alive through every
 * collection of the young generation, which then promoted ~400 KB each time and took 0.8–1.2 ms,
 * against 0–8 KB and 0.4–0.5 ms without it in the same minute (1,000 guardrails; issue 11).
 */
import { setFlagsFromString } from 'node:v8';

/** The V8 flags `tuneHeap` sets. */
const HEAP_FLAGS: readonly string[] = ['--no-allocation-site-pretenuring'];

/**
 * Sets `HEAP_FLAGS`. Call it before any policy set is compiled: V8 reads the flag when it weighs
 * an allocation site, so sites it has already pretenured stay so.
 */
export function tuneHeap(): void {
  for (const flag of HEAP_FLAGS) setFlagsFromString(flag);
}
