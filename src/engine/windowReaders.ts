import { DDSketch } from "./algebras/ddSketch.js";
import { SlidingHll } from "./algebras/hyperLogLog.js";
import { ValueCounts } from "./algebras/valueCounts.js";
import type { ReaderSlot } from "./layout.js";

/** What a reader sees of a key's state: events at absolute positions, array index = position − off. */
export interface ReaderState {
  readonly off: number;
  readonly ts: Float64Array;
  readonly vals: readonly Float64Array[];
  readonly refs: ReadonlyArray<readonly unknown[]>;
}

export type FeatureColumn = Float64Array | unknown[];

/**
 * Keeps one aggregation of a sliding window that neither prefix sums nor a
 * monotonic deque can answer. The cursor moving over a key's events tells it
 * which positions entered the window [lo, hi) and which left it; `write` then
 * reads the value as of t. Every reader's value depends only on the events in
 * the window (sketch counts are integers, lists are read by position), so
 * online reads and offline replays agree exactly, however the cursor moved.
 */
export interface WindowReader {
  reset(): void;
  enter(st: ReaderState, from: number, to: number): void;
  leave(st: ReaderState, from: number, to: number): void;
  write(st: ReaderState, lo: number, hi: number, t: number, out: FeatureColumn, index: number): void;
}

export function makeReader(slot: ReaderSlot): WindowReader {
  switch (slot.kind) {
    case "first":
    case "last":
    case "firstK":
    case "lastK":
      return new PositionalReader(slot.kind, slot.field, slot.k ?? 1);
    case "distinctCount":
    case "topK":
      return new CountsReader(slot.kind === "topK" ? (slot.k ?? 1) : 0, slot.field);
    case "approxDistinct":
      return new HllReader(slot.field, slot.precision ?? 10);
    case "approxQuantile":
      return new QuantileReader(slot.field, slot.q ?? 0.5, slot.accuracy ?? 0.01);
    case "decayedSum":
      return new DecayReader(slot.field, slot.halfLife ?? 1);
    default:
      throw new Error(`no window reader for ${slot.kind}`);
  }
}

/** first/last/firstK/lastK: read straight from the window's values; nulls are skipped. */
class PositionalReader implements WindowReader {
  constructor(
    private readonly kind: "first" | "last" | "firstK" | "lastK",
    private readonly field: number,
    private readonly k: number,
  ) {}

  reset(): void {}
  enter(): void {}
  leave(): void {}

  write(st: ReaderState, lo: number, hi: number, _t: number, out: FeatureColumn, index: number): void {
    const vals = st.refs[this.field] as readonly unknown[];
    const a = lo - st.off;
    const b = hi - st.off;
    switch (this.kind) {
      case "first": {
        let v: unknown = null;
        for (let i = a; i < b; i++) if (vals[i] !== null) { v = vals[i]; break; }
        out[index] = v;
        return;
      }
      case "last": {
        let v: unknown = null;
        for (let i = b - 1; i >= a; i--) if (vals[i] !== null) { v = vals[i]; break; }
        out[index] = v;
        return;
      }
      case "firstK": {
        const r: unknown[] = [];
        for (let i = a; i < b && r.length < this.k; i++) if (vals[i] !== null) r.push(vals[i]);
        out[index] = r;
        return;
      }
      case "lastK": {
        const r: unknown[] = [];
        for (let i = b - 1; i >= a && r.length < this.k; i--) if (vals[i] !== null) r.push(vals[i]);
        out[index] = r;
        return;
      }
    }
  }
}

/** distinctCount and topK: exact counts of the window's values. */
class CountsReader implements WindowReader {
  private counts = new ValueCounts();

  /** k = 0: distinct count; otherwise the top k. */
  constructor(
    private readonly k: number,
    private readonly field: number,
  ) {}

  reset(): void {
    this.counts = new ValueCounts();
  }

  enter(st: ReaderState, from: number, to: number): void {
    const vals = st.refs[this.field] as readonly unknown[];
    for (let p = from; p < to; p++) {
      const v = vals[p - st.off];
      if (v !== null) this.counts.add(v);
    }
  }

  leave(st: ReaderState, from: number, to: number): void {
    const vals = st.refs[this.field] as readonly unknown[];
    for (let p = from; p < to; p++) {
      const v = vals[p - st.off];
      if (v !== null) this.counts.remove(v);
    }
  }

  write(_st: ReaderState, _lo: number, _hi: number, _t: number, out: FeatureColumn, index: number): void {
    out[index] = this.k === 0 ? this.counts.distinct : this.counts.top(this.k);
  }
}

class HllReader implements WindowReader {
  private readonly hll: SlidingHll;

  constructor(
    private readonly field: number,
    precision: number,
  ) {
    this.hll = new SlidingHll(precision);
  }

  reset(): void {
    this.hll.reset();
  }

  enter(st: ReaderState, from: number, to: number): void {
    const vals = st.refs[this.field] as readonly unknown[];
    for (let p = from; p < to; p++) {
      const v = vals[p - st.off];
      if (v !== null) this.hll.add(p, v);
    }
  }

  leave(_st: ReaderState, _from: number, to: number): void {
    this.hll.slide(to);
  }

  write(_st: ReaderState, _lo: number, _hi: number, _t: number, out: FeatureColumn, index: number): void {
    out[index] = this.hll.estimate();
  }
}

class QuantileReader implements WindowReader {
  private sketch: DDSketch;

  constructor(
    private readonly field: number,
    private readonly q: number,
    private readonly accuracy: number,
  ) {
    this.sketch = new DDSketch(accuracy);
  }

  reset(): void {
    this.sketch = new DDSketch(this.accuracy);
  }

  enter(st: ReaderState, from: number, to: number): void {
    const vals = st.vals[this.field] as Float64Array;
    for (let p = from; p < to; p++) this.sketch.add(vals[p - st.off] as number); // NaN (null) is ignored
  }

  leave(st: ReaderState, from: number, to: number): void {
    const vals = st.vals[this.field] as Float64Array;
    for (let p = from; p < to; p++) {
      const v = vals[p - st.off] as number;
      if (v === v) this.sketch.remove(v);
    }
  }

  write(_st: ReaderState, _lo: number, _hi: number, _t: number, out: FeatureColumn, index: number): void {
    out[index] = this.sketch.quantile(this.q);
  }
}

/**
 * Decayed sum, summed newest first from the window's values at each read, so
 * the value is a function of the window alone; terms weighing less than 2^-64
 * (older than 64 half-lives) are left out.
 */
class DecayReader implements WindowReader {
  constructor(
    private readonly field: number,
    private readonly halfLife: number,
  ) {}

  reset(): void {}
  enter(): void {}
  leave(): void {}

  write(st: ReaderState, lo: number, hi: number, t: number, out: FeatureColumn, index: number): void {
    const vals = st.vals[this.field] as Float64Array;
    const ts = st.ts;
    const horizon = t - 64 * this.halfLife;
    let s = 0;
    for (let i = hi - 1 - st.off; i >= lo - st.off; i--) {
      const ti = ts[i] as number;
      if (ti < horizon) break;
      const v = vals[i] as number;
      if (v === v) s += v * Math.pow(2, -(t - ti) / this.halfLife);
    }
    out[index] = s;
  }
}
