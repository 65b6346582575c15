/** Sorted, disjoint, inclusive integer intervals: the algebra under CIDR and port sets. */

export type Interval = readonly [bigint, bigint];
export type Intervals = readonly Interval[];

/** Sorts and merges overlapping or adjacent intervals. */
export function normalize(intervals: readonly Interval[]): Intervals {
  const sorted = [...intervals].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: [bigint, bigint][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1n) {
      if (hi > last[1]) last[1] = hi;
    } else {
      out.push([lo, hi]);
    }
  }
  return out;
}

export function intersectIntervals(a: Intervals, b: Intervals): Intervals {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as Interval;
    const y = b[j] as Interval;
    const alo = x[0];
    const ahi = x[1];
    const blo = y[0];
    const bhi = y[1];
    const lo = alo > blo ? alo : blo;
    const hi = ahi < bhi ? ahi : bhi;
    if (lo <= hi) out.push([lo, hi]);
    if (ahi < bhi) i++;
    else j++;
  }
  return out;
}

/** True when the two sets share a value: `intersectIntervals(a, b).length > 0` without building it. */
export function intervalsMeet(a: Intervals, b: Intervals): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as Interval;
    const y = b[j] as Interval;
    const ahi = x[1];
    const bhi = y[1];
    if ((x[0] > y[0] ? x[0] : y[0]) <= (ahi < bhi ? ahi : bhi)) return true;
    if (ahi < bhi) i++;
    else j++;
  }
  return false;
}

/** The least value in both sets, `intersectIntervals(a, b)[0]?.[0]` without building the intersection. */
export function leastOfBoth(a: Intervals, b: Intervals): bigint | undefined {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as Interval;
    const y = b[j] as Interval;
    const lo = x[0] > y[0] ? x[0] : y[0];
    if (lo <= (x[1] < y[1] ? x[1] : y[1])) return lo;
    if (x[1] < y[1]) i++;
    else j++;
  }
  return undefined;
}

/** True when every value of `inner` is in `outer`. */
export function intervalsInclude(outer: Intervals, inner: Intervals): boolean {
  let j = 0;
  for (let i = 0; i < inner.length; i++) {
    const lo = (inner[i] as Interval)[0];
    const hi = (inner[i] as Interval)[1];
    while (j < outer.length && (outer[j] as Interval)[1] < lo) j++;
    const holder = outer[j];
    if (!holder || holder[0] > lo || holder[1] < hi) return false;
  }
  return true;
}

export function subtractIntervals(a: Intervals, b: Intervals): Intervals {
  const out: Interval[] = [];
  let j = 0;
  for (let i = 0; i < a.length; i++) {
    const ahi = (a[i] as Interval)[1];
    let lo = (a[i] as Interval)[0];
    while (j < b.length && (b[j] as Interval)[1] < lo) j++;
    let k = j;
    while (k < b.length && lo <= ahi) {
      const blo = (b[k] as Interval)[0];
      const bhi = (b[k] as Interval)[1];
      if (blo > ahi) break;
      if (blo > lo) out.push([lo, blo - 1n]);
      lo = bhi + 1n;
      k++;
    }
    if (lo <= ahi) out.push([lo, ahi]);
  }
  return out;
}

export function unionIntervals(a: Intervals, b: Intervals): Intervals {
  // Both are normalized already: with one side empty the other is the union.
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return normalize([...a, ...b]);
}

/**
 * Binary search: large ipBlock lists (hundreds of excepts) stay fast. A number is compared with the
 * bigint bounds exactly, as JavaScript compares them, without converting it (a port, per pair of boxes).
 */
export function containsValue(a: Intervals, value: bigint | number): boolean {
  let low = 0;
  let high = a.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const interval = a[middle] as Interval;
    if (value < interval[0]) high = middle - 1;
    else if (value > interval[1]) low = middle + 1;
    else return true;
  }
  return false;
}
