/**
 * Capped exponential backoff with jitter, for reconnecting to the API server: the n-th retry in a
 * row waits between half and all of `min(maxMs, initialMs * 2^n)`, so replicas that lost the
 * API server together do not come back in lockstep.
 */

export interface BackoffOptions {
  /** First delay, in milliseconds (default 100). */
  readonly initialMs?: number;
  /** Largest delay, in milliseconds (default 30 000). */
  readonly maxMs?: number;
  /** Random number in [0, 1); injected for tests. */
  readonly random?: () => number;
}

export interface Backoff {
  /** The delay before the next retry, in milliseconds; each call without `reset` doubles it, up to the cap. */
  next(): number;
  /** Back to the first delay, after something worked. */
  reset(): void;
}

/**
 * @example
 * const backoff = createBackoff({ initialMs: 100, maxMs: 30_000 });
 * setTimeout(retry, backoff.next()); // 50–100 ms, then 100–200 ms, … 15–30 s
 */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const initialMs = options.initialMs ?? 100;
  const maxMs = Math.max(initialMs, options.maxMs ?? 30_000);
  const random = options.random ?? Math.random;
  let attempt = 0;
  return {
    next() {
      // 2^attempt stops growing once past the cap, so the exponent never overflows.
      const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
      attempt += 1;
      return Math.round(ceiling / 2 + (random() * ceiling) / 2);
    },
    reset() {
      attempt = 0;
    },
  };
}
