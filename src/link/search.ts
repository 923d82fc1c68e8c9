/**
 * Binary search, for the sorted tables a link reads without copying them
 * (an image's .rela.dyn and .eh_frame_hdr, columns of places).
 */

/**
 * The first index in [lo, hi) for which `before(i)` is false, where `before`
 * is true for a prefix of the range and false after it; hi if it is true
 * throughout.
 */
export function partitionPoint(lo: number, hi: number, before: (i: number) => boolean): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index of ascending `a` whose value is at least `x` (a.length if none). */
export function lowerBound(a: ArrayLike<number>, x: number): number {
  return partitionPoint(0, a.length, (i) => a[i] < x);
}
