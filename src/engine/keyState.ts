import type { Layout } from "./layout.js";
import type { MonotonicDeque, WindowCursor } from "./windowCursor.js";

/**
 * All state of one key of one aggregate: its retained events sorted by event
 * time, with per-field values and prefix sums.
 *
 * Invariants:
 * - events at absolute positions [first, end) are retained, sorted by time;
 *   ties keep arrival order; position p lives at array index p − off;
 * - psum[f][i] is the sum of non-null values of field f over all events of the
 *   key before position i (including evicted ones), kept as a compensated pair
 *   (psum + pcomp, Kahan–Babuška) so that differences of large prefixes stay
 *   exact to about one ulp of the window sum; pnn[f][i] counts them; totSum,
 *   totComp and totNN are the same through the last event. A window sum is
 *   therefore P(hi) − P(lo): a function of the sorted event sequence only, so
 *   the online path (inserts, evictions, restarts) and the offline replay
 *   compute bit-identical values.
 */
export class KeyState {
  readonly key: string;
  readonly keyValues: readonly unknown[];
  readonly group: number;
  private readonly layout: Layout;

  cap: number;
  off = 0;
  first = 0;
  end = 0;
  ts: Float64Array;
  vals: Float64Array[];
  psum: Float64Array[];
  pcomp: Float64Array[];
  pnn: Float64Array[];
  totSum: Float64Array;
  totComp: Float64Array;
  totNN: Float64Array;
  /** Highest event time ever appended (for emission bookkeeping). */
  maxTs = Number.NEGATIVE_INFINITY;
  /** Positions before this one have had their outputs emitted. */
  emitPos = 0;
  /** Marks for the operator's lists (cheaper than a Set lookup per event). */
  dirtyMark = false;
  pendingMark = false;
  readCursor: WindowCursor | undefined;
  emitCursor: WindowCursor | undefined;

  constructor(key: string, keyValues: readonly unknown[], group: number, layout: Layout, capacity = 8) {
    this.key = key;
    this.keyValues = keyValues;
    this.group = group;
    this.layout = layout;
    this.cap = capacity;
    this.ts = new Float64Array(capacity);
    const nf = layout.fields.length;
    this.vals = [];
    this.psum = [];
    this.pcomp = [];
    this.pnn = [];
    for (let f = 0; f < nf; f++) {
      this.vals.push(new Float64Array(capacity));
      this.psum.push(layout.prefixed[f] === true ? new Float64Array(capacity) : new Float64Array(0));
      this.pcomp.push(layout.prefixed[f] === true ? new Float64Array(capacity) : new Float64Array(0));
      this.pnn.push(layout.prefixed[f] === true ? new Float64Array(capacity) : new Float64Array(0));
    }
    this.totSum = new Float64Array(nf);
    this.totComp = new Float64Array(nf);
    this.totNN = new Float64Array(nf);
  }

  get size(): number {
    return this.end - this.first;
  }

  /** Appends one event; `values[f]` is the field value (NaN for null). */
  append(t: number, values: ArrayLike<number>): void {
    if (this.end - this.off >= this.cap) this.makeRoom();
    const last = this.end - 1;
    if (this.end === this.first || t >= (this.ts[last - this.off] ?? Number.NEGATIVE_INFINITY)) {
      this.writeAt(this.end - this.off, t, values);
      this.end++;
    } else {
      this.insert(t, values);
    }
    if (t > this.maxTs) this.maxTs = t;
  }

  private writeAt(i: number, t: number, values: ArrayLike<number>): void {
    this.ts[i] = t;
    const nf = this.vals.length;
    for (let f = 0; f < nf; f++) {
      const v = values[f] ?? Number.NaN;
      (this.vals[f] as Float64Array)[i] = v;
      if (this.layout.prefixed[f] === true) {
        const s = this.totSum[f] as number;
        const c = this.totComp[f] as number;
        const n = this.totNN[f] as number;
        (this.psum[f] as Float64Array)[i] = s;
        (this.pcomp[f] as Float64Array)[i] = c;
        (this.pnn[f] as Float64Array)[i] = n;
        if (v === v) {
          // TwoSum: x + err is exactly s + v.
          const x = s + v;
          const bp = x - s;
          this.totSum[f] = x;
          this.totComp[f] = c + ((s - (x - bp)) + (v - bp));
          this.totNN[f] = n + 1;
        }
      }
    }
  }

  /** Out-of-order insert: after every event <= t, then prefix sums recomputed from there. */
  private insert(t: number, values: ArrayLike<number>): void {
    const p = this.upperBound(t);
    const i = p - this.off;
    const n = this.end - this.off;
    this.ts.copyWithin(i + 1, i, n);
    for (let f = 0; f < this.vals.length; f++) (this.vals[f] as Float64Array).copyWithin(i + 1, i, n);
    this.ts[i] = t;
    for (let f = 0; f < this.vals.length; f++) {
      const vf = this.vals[f] as Float64Array;
      vf[i] = values[f] ?? Number.NaN;
      if (this.layout.prefixed[f] !== true) continue;
      const ps = this.psum[f] as Float64Array;
      const pc = this.pcomp[f] as Float64Array;
      const pn = this.pnn[f] as Float64Array;
      // The prefix before position p is unchanged; recompute from p onward,
      // with the same TwoSum steps as writeAt so values match a sorted replay.
      let s = i < n ? (ps[i] as number) : (this.totSum[f] as number);
      let comp = i < n ? (pc[i] as number) : (this.totComp[f] as number);
      let c = i < n ? (pn[i] as number) : (this.totNN[f] as number);
      for (let j = i; j <= n; j++) {
        ps[j] = s;
        pc[j] = comp;
        pn[j] = c;
        const v = vf[j] as number;
        if (v === v) {
          const x = s + v;
          const bp = x - s;
          comp += (s - (x - bp)) + (v - bp);
          s = x;
          c += 1;
        }
      }
      this.totSum[f] = s;
      this.totComp[f] = comp;
      this.totNN[f] = c;
    }
    this.end++;
    for (const cur of [this.readCursor, this.emitCursor]) {
      if (cur !== undefined && cur.valid && p < cur.hi) cur.reset();
    }
    // Emission only covers times below the watermark and late events never get
    // here, so this cannot happen; if it did, emitted rows are not emitted again.
    if (p < this.emitPos) this.emitPos++;
  }

  /** First absolute position whose time is > t (binary search over the retained events). */
  upperBound(t: number): number {
    let lo = this.first - this.off;
    let hi = this.end - this.off;
    const ts = this.ts;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((ts[mid] as number) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo + this.off;
  }

  /** Drops events with time <= horizon. Prefix totals are kept, so later sums are unchanged. */
  evict(horizon: number): void {
    const ts = this.ts;
    let first = this.first;
    while (first < this.end && (ts[first - this.off] as number) <= horizon) first++;
    if (first === this.first) return;
    this.first = first;
    if (this.emitPos < first) this.emitPos = first;
    for (const cur of [this.readCursor, this.emitCursor]) {
      if (cur === undefined || !cur.valid) continue;
      for (let w = 0; w < cur.lo.length; w++) {
        if ((cur.lo[w] as number) < first) {
          cur.reset();
          break;
        }
      }
    }
  }

  private makeRoom(): void {
    const live = this.end - this.first;
    const shift = this.first - this.off;
    if (shift > 0 && live < this.cap / 2) {
      this.ts.copyWithin(0, shift, this.end - this.off);
      for (let f = 0; f < this.vals.length; f++) {
        (this.vals[f] as Float64Array).copyWithin(0, shift, this.end - this.off);
        if (this.layout.prefixed[f] === true) {
          (this.psum[f] as Float64Array).copyWithin(0, shift, this.end - this.off);
          (this.pcomp[f] as Float64Array).copyWithin(0, shift, this.end - this.off);
          (this.pnn[f] as Float64Array).copyWithin(0, shift, this.end - this.off);
        }
      }
      this.off = this.first;
      return;
    }
    const cap = this.cap * 2;
    const grow = (a: Float64Array): Float64Array => {
      const b = new Float64Array(cap);
      b.set(a.subarray(shift, this.end - this.off));
      return b;
    };
    this.ts = grow(this.ts);
    for (let f = 0; f < this.vals.length; f++) {
      this.vals[f] = grow(this.vals[f] as Float64Array);
      if (this.layout.prefixed[f] === true) {
        this.psum[f] = grow(this.psum[f] as Float64Array);
        this.pcomp[f] = grow(this.pcomp[f] as Float64Array);
        this.pnn[f] = grow(this.pnn[f] as Float64Array);
      }
    }
    this.off = this.first;
    this.cap = cap;
  }

  /** Time of the event at absolute position p. */
  timeAt(p: number): number {
    return this.ts[p - this.off] as number;
  }

  /**
   * Moves a cursor to read time t and writes every feature into `out` at
   * `outIndex` (NaN stands for null). Events after t are not seen.
   */
  readInto(cur: WindowCursor, t: number, out: readonly Float64Array[], outIndex: number): void {
    const L = this.layout;
    if (cur.valid && t >= cur.t) this.advance(cur, t);
    else this.rebuild(cur, t);
    const feats = L.features;
    for (let k = 0; k < feats.length; k++) {
      const fs = feats[k] as (typeof feats)[number];
      const lo = cur.lo[fs.window] as number;
      const hi = cur.hi;
      let v: number;
      switch (fs.kind) {
        case "count":
          v = hi - lo;
          break;
        case "sum":
          v = this.windowSum(fs.field, lo, hi);
          break;
        case "avg": {
          const n = this.prefixCount(fs.field, hi) - this.prefixCount(fs.field, lo);
          v = n === 0 ? Number.NaN : this.windowSum(fs.field, lo, hi) / n;
          break;
        }
        case "min":
        case "max": {
          const front = (cur.deques[fs.deque] as MonotonicDeque).front();
          v = front < 0 ? Number.NaN : ((this.vals[fs.field] as Float64Array)[front - this.off] as number);
          break;
        }
      }
      (out[k] as Float64Array)[outIndex] = v;
    }
  }

  /** Sum of field f over positions [lo, hi): difference of compensated prefixes. */
  private windowSum(f: number, lo: number, hi: number): number {
    if (lo === hi) return 0;
    const ps = this.psum[f] as Float64Array;
    const pc = this.pcomp[f] as Float64Array;
    const off = this.off;
    const sHi = hi === this.end ? (this.totSum[f] as number) : (ps[hi - off] as number);
    const cHi = hi === this.end ? (this.totComp[f] as number) : (pc[hi - off] as number);
    return sHi - (ps[lo - off] as number) + (cHi - (pc[lo - off] as number));
  }

  private prefixCount(f: number, p: number): number {
    return p === this.end ? (this.totNN[f] as number) : ((this.pnn[f] as Float64Array)[p - this.off] as number);
  }

  private advance(cur: WindowCursor, t: number): void {
    const L = this.layout;
    const ts = this.ts;
    const off = this.off;
    const end = this.end;
    let hi = cur.hi;
    const from = hi;
    while (hi < end && (ts[hi - off] as number) <= t) hi++;
    cur.hi = hi;
    const wins = L.windows;
    for (let w = 0; w < wins.length; w++) {
      const bound = t - (wins[w] as number);
      let lo = cur.lo[w] as number;
      while (lo < hi && (ts[lo - off] as number) <= bound) lo++;
      cur.lo[w] = lo;
    }
    const dqs = L.deques;
    for (let d = 0; d < dqs.length; d++) {
      const slot = dqs[d] as (typeof dqs)[number];
      const dq = cur.deques[d] as MonotonicDeque;
      const vals = this.vals[slot.field] as Float64Array;
      const isMax = slot.kind === "max";
      for (let p = from; p < hi; p++) {
        const v = vals[p - off] as number;
        if (v === v) dq.push(p, v, vals, off, isMax); // null never wins min or max
      }
      dq.trim(cur.lo[slot.window] as number);
    }
    cur.t = t;
  }

  private rebuild(cur: WindowCursor, t: number): void {
    const L = this.layout;
    cur.reset();
    const hi = this.upperBound(t);
    for (let w = 0; w < L.windows.length; w++) cur.lo[w] = this.upperBound(t - (L.windows[w] as number));
    const off = this.off;
    for (let d = 0; d < L.deques.length; d++) {
      const slot = L.deques[d] as (typeof L.deques)[number];
      const dq = cur.deques[d] as MonotonicDeque;
      const vals = this.vals[slot.field] as Float64Array;
      for (let p = cur.lo[slot.window] as number; p < hi; p++) {
        const v = vals[p - off] as number;
        if (v === v) dq.push(p, v, vals, off, slot.kind === "max");
      }
    }
    cur.hi = hi;
    cur.t = t;
    cur.valid = true;
  }
}
