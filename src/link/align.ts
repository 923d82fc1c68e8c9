/** Rounds `v` up to a multiple of `align` (a power of two, or 0/1 for none). */
export function alignTo(v: number, align: number): number {
  return align <= 1 ? v : Math.ceil(v / align) * align;
}
