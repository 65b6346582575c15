// Shared by the engine-level sections (files starting with "_" are not run as sections).

/**
 * Calls `fn` repeatedly — at least 50 times, then until `seconds` (at most 3) have passed or
 * 200,000 calls — and returns the call count, p50 and p99 in microseconds, and the last result.
 */
export function timeCalls(fn, seconds) {
  const times = [];
  let last;
  const deadline = Date.now() + Math.min(3000, seconds * 1000);
  for (let i = 0; i < 200_000 && (i < 50 || Date.now() < deadline); i++) {
    const start = process.hrtime.bigint();
    last = fn();
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return { calls: times.length, p50us: Math.round(at(0.5)), p99us: Math.round(at(0.99)), last };
}
