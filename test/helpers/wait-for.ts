/**
 * Waiting in tests for a condition, never for a clock: a busy 2-core machine (another test run
 * beside this one) may take many times longer than an idle one, and a test that sleeps a fixed
 * time or polls a few hundred times fails there for no fault of the code under test.
 */

/** How long `waitFor` waits by default: generous, yet under the 30 s test timeout, so that its message (naming what it waited for) is the one a failure shows. */
export const DEFAULT_WAIT_MS = 25_000;

export interface WaitOptions {
  /** What is awaited, for the failure message: `waiting for ${what}`. */
  readonly what: string;
  /** Give up after this long, in ms (default DEFAULT_WAIT_MS). */
  readonly timeoutMs?: number;
  /** Pause between two polls, in ms (default 50: a poll may spawn kubectl). */
  readonly intervalMs?: number;
  /** Stops waiting early with this error, e.g. when the process being waited for has exited. */
  readonly abort?: () => Error | undefined;
}

/**
 * Polls `condition` until it returns a value other than `undefined`, `null` or `false`, and
 * returns that value. A condition that throws counts as not yet met; the last error is in the
 * failure message.
 *
 * @example
 * await waitFor(() => certificates.ready(), { what: 'the first certificate' });
 * const probe = await waitFor(() => probes.find((p) => p.outcome === '503'), { what: '/readyz to answer 503' });
 */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitOptions): Promise<Exclude<NonNullable<T>, false>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const aborted = options.abort?.();
    if (aborted) throw aborted;
    try {
      const value = await condition();
      if (value !== undefined && value !== null && value !== false) return value as Exclude<NonNullable<T>, false>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
  const why = lastError === undefined ? '' : ` (last attempt: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}${why}`, { cause: lastError });
}
