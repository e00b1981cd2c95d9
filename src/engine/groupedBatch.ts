/**
 * A batch's event times and numeric columns regrouped key by key (the placing
 * pass of a counting sort), in arrays reused from batch to batch. Appending
 * each key's events from contiguous memory is what makes a batch's appends
 * cheap where the batch was written by another thread (see
 * AggregateOperator.appendGrouped).
 */
export class GroupedBatch {
  private ts = new Float64Array(0);
  private cols: Float64Array[] = [];

  /**
   * Event i (of n) goes to position at[group[i]], which then moves on by one:
   * `at` holds each group's first position on entry and its end on return.
   * The returned arrays are valid until the next call.
   */
  place(n: number, group: Int32Array, at: Int32Array, ts: ArrayLike<number>, cols: readonly Float64Array[]): { ts: Float64Array; cols: readonly Float64Array[] } {
    const nf = cols.length;
    if (this.ts.length < n || this.cols.length !== nf) {
      const cap = Math.max(n, 2 * this.ts.length);
      this.ts = new Float64Array(cap);
      this.cols = Array.from({ length: nf }, () => new Float64Array(cap));
    }
    const gts = this.ts;
    const gcols = this.cols;
    if (nf === 1) {
      // One field (the usual case): a loop of its own, without the loop over fields.
      const col = cols[0] as Float64Array;
      const g = gcols[0] as Float64Array;
      for (let i = 0; i < n; i++) {
        const k = group[i] as number;
        const p = at[k] as number;
        at[k] = p + 1;
        gts[p] = ts[i] as number;
        g[p] = col[i] as number;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const k = group[i] as number;
        const p = at[k] as number;
        at[k] = p + 1;
        gts[p] = ts[i] as number;
        for (let f = 0; f < nf; f++) (gcols[f] as Float64Array)[p] = (cols[f] as Float64Array)[i] as number;
      }
    }
    return { ts: gts, cols: gcols };
  }
}
