/**
 * decayedSum in prefix form, so a read costs a binary search and a few
 * operations instead of a pass over its window.
 *
 * The value read at t over the window's events i is
 *   D(t) = Σ vᵢ · 2^(−(t − tᵢ) / h),  over tᵢ ≥ t − 64·h
 * (older terms weigh less than 2^-64 and are left out). Time is cut into
 * epochs of one half-life, e = ⌊tᵢ / h⌋; event i contributes the term
 * xᵢ = vᵢ · 2^((tᵢ − e·h) / h), within a factor 2 of vᵢ. Slot p holds the sum
 * of the terms of the events before position p, expressed in the epoch of
 * the latest of them (slot epoch E[p]): a step to a later epoch first scales
 * the sum by 2^(E_old − E_new), a power of two, which is exact. So the sum of
 * positions [a, b) in epoch E[b] is S[b] − S[a]·2^(E[a] − E[b]) with no
 * rounding in the rescaling, and D(t) = that · 2^((E[b]·h − t) / h).
 *
 * Invariants:
 * - S + C is a compensated pair (TwoSum, as the prefix sums of KeyState): the
 *   terms of events before the window cancel exactly in the difference, up
 *   to the second-order error of the compensation;
 * - A[p] is Σ|xᵢ| in the same epoch (the mass, for the condition below);
 * - a slot with A = 0 holds no mass and its epoch is meaningless;
 * - every slot is a function of the sorted event sequence only (appends,
 *   out-of-order inserts that recompute the slots after them, restarts from
 *   the codec), so online reads and point-in-time reads agree bit for bit.
 *
 * Numeric bound: each term carries a relative error of a few ulps from its
 * weights (the exponents are below 66 in magnitude, so under 30ε all told),
 * and the compensated difference adds about n·ε² of the mass before the
 * window for n events in it. When the events before the window weigh more
 * than 2^20 times the window's own terms (a spike of huge values followed by
 * tiny ones), or a sum overflows, the read sums the window's terms directly
 * instead (compensated, newest first). Either way the result is within
 * 1e-12 · Σ|vᵢ|·2^(−(t − tᵢ)/h) of the exact sum over the window's terms
 * (test/decayedSum.property.test.ts checks it against a direct computation).
 * Half-lives are whole milliseconds (parseDuration), so e·h and t − e·h are
 * exact.
 */

/** Terms older than this many half-lives are left out (their weight is below 2^-64). */
export const DECAY_HORIZON = 64;

/** Above this ratio of the mass before the window to the window's, the window is summed directly. */
const CONDITION = 2 ** 20;

export class DecayPrefix {
  /** Per slot (capacity + 1, like the prefix sums: slot i is the sum before position off + i). */
  s: Float64Array;
  c: Float64Array;
  a: Float64Array;
  e: Float64Array;

  constructor(
    /** Index into Layout.fields. */
    readonly field: number,
    readonly halfLife: number,
    capacity: number,
  ) {
    this.s = new Float64Array(capacity + 1);
    this.c = new Float64Array(capacity + 1);
    this.a = new Float64Array(capacity + 1);
    this.e = new Float64Array(capacity + 1);
  }

  /** Writes slot i + 1 from slot i and the event at index i (time t, value v; NaN = null). */
  step(i: number, t: number, v: number): void {
    const S = this.s;
    const C = this.c;
    const A = this.a;
    const E = this.e;
    let s = S[i] as number;
    let c = C[i] as number;
    let a = A[i] as number;
    if (v !== v) {
      S[i + 1] = s;
      C[i + 1] = c;
      A[i + 1] = a;
      E[i + 1] = E[i] as number;
      return;
    }
    const h = this.halfLife;
    const e = Math.floor(t / h);
    if (a === 0) {
      s = 0;
      c = 0;
    } else {
      const pe = E[i] as number;
      if (pe !== e) {
        // Events are sorted, so pe < e: an exact scaling down by a power of two.
        const f = 2 ** (pe - e);
        s *= f;
        c *= f;
        a *= f;
      }
    }
    const x = v * 2 ** ((t - e * h) / h);
    const sum = s + x;
    const bp = sum - s;
    S[i + 1] = sum;
    C[i + 1] = c + (s - (sum - bp) + (x - bp));
    A[i + 1] = a + Math.abs(x);
    E[i + 1] = e;
  }

  /**
   * The decayed sum as of t over the events at array indices [lo, hi)
   * (every event <= t), leaving out those older than 64 half-lives.
   */
  read(ts: Float64Array, vals: Float64Array, lo: number, hi: number, t: number): number {
    const h = this.halfLife;
    const horizon = t - DECAY_HORIZON * h;
    let first = lo;
    let end = hi;
    while (first < end) {
      const mid = (first + end) >>> 1;
      if ((ts[mid] as number) < horizon) first = mid + 1;
      else end = mid;
    }
    if (first >= hi) return 0;
    const total = this.a[hi] as number;
    if (total === 0) return 0;
    const eb = this.e[hi] as number;
    const aa = this.a[first] as number;
    const f = aa === 0 ? 0 : 2 ** ((this.e[first] as number) - eb);
    const before = aa * f;
    const mass = total - before;
    if (!(total < Number.POSITIVE_INFINITY && before <= CONDITION * mass)) return this.direct(ts, vals, first, hi, t);
    const w = (this.s[hi] as number) - (aa === 0 ? 0 : (this.s[first] as number) * f) + ((this.c[hi] as number) - (aa === 0 ? 0 : (this.c[first] as number) * f));
    return w * 2 ** ((eb * h - t) / h);
  }

  /** The window's terms summed newest first with a compensated sum (ill-conditioned reads, overflow). */
  private direct(ts: Float64Array, vals: Float64Array, first: number, hi: number, t: number): number {
    const h = this.halfLife;
    let s = 0;
    let c = 0;
    for (let i = hi - 1; i >= first; i--) {
      const v = vals[i] as number;
      if (v !== v) continue;
      const x = v * 2 ** (-(t - (ts[i] as number)) / h);
      const sum = s + x;
      const bp = sum - s;
      c += s - (sum - bp) + (x - bp);
      s = sum;
    }
    // An infinite term leaves the compensation NaN: the sum itself is the answer then.
    return Number.isFinite(s) ? s + c : s;
  }

  /** Bytes per slot. */
  static readonly SLOT_BYTES = 32;
}
