import type { TimedList } from "./algebras/algebra.js";
import { DDSketch } from "./algebras/ddSketch.js";
import { SlidingHll, type HyperLogLog } from "./algebras/hyperLogLog.js";
import { ValueCounts } from "./algebras/valueCounts.js";
import type { DecayPrefix } from "./decayPrefix.js";
import type { ReaderSlot } from "./layout.js";

/** What a reader sees of a key's state: events at absolute positions, array index = position − off. */
export interface ReaderState {
  readonly off: number;
  readonly ts: Float64Array;
  readonly vals: readonly Float64Array[];
  readonly refs: ReadonlyArray<readonly unknown[]>;
  /** Per Layout.decays entry: the key's decayed prefix. */
  readonly decays: readonly DecayPrefix[];
}

export type FeatureColumn = Float64Array | unknown[];

/**
 * Keeps one aggregation of a sliding window that neither prefix sums nor a
 * monotonic deque can answer. The cursor moving over a key's events tells it
 * which positions entered the window [lo, hi) and which left it; `write` then
 * reads the value as of t. Every reader's value depends only on the events in
 * the window (sketch counts are integers, lists are read by position), so
 * online reads and offline replays agree exactly, however the cursor moved.
 *
 * In a tiled key (see tiles.ts) the window's earlier events may have been
 * dropped into tiles: `write` then gets `base`, the partial state of the
 * reader's algebra (algebra.ts) over those events, and reads the window as
 * that merged with the events [lo, hi). Every base is of events before lo,
 * and is only read, never changed.
 */
export interface WindowReader {
  reset(): void;
  enter(st: ReaderState, from: number, to: number): void;
  leave(st: ReaderState, from: number, to: number): void;
  write(st: ReaderState, lo: number, hi: number, t: number, out: FeatureColumn, index: number, base?: unknown): void;
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
      return new DecayReader(slot.field, slot.decay);
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

  /** base: the earliest (first, firstK) or latest (last, lastK) values of the dropped events, oldest first. */
  write(st: ReaderState, lo: number, hi: number, _t: number, out: FeatureColumn, index: number, base?: unknown): void {
    const vals = st.refs[this.field] as readonly unknown[];
    const a = lo - st.off;
    const b = hi - st.off;
    const earlier = base === undefined ? [] : (base as TimedList).items;
    switch (this.kind) {
      case "first": {
        let v: unknown = earlier[0]?.v ?? null;
        if (v === null) for (let i = a; i < b; i++) if (vals[i] !== null) { v = vals[i]; break; }
        out[index] = v;
        return;
      }
      case "last": {
        let v: unknown = null;
        for (let i = b - 1; i >= a; i--) if (vals[i] !== null) { v = vals[i]; break; }
        out[index] = v ?? earlier[earlier.length - 1]?.v ?? null;
        return;
      }
      case "firstK": {
        const r: unknown[] = [];
        for (let j = 0; j < earlier.length && r.length < this.k; j++) r.push((earlier[j] as (typeof earlier)[number]).v);
        for (let i = a; i < b && r.length < this.k; i++) if (vals[i] !== null) r.push(vals[i]);
        out[index] = r;
        return;
      }
      case "lastK": {
        const r: unknown[] = [];
        for (let i = b - 1; i >= a && r.length < this.k; i--) if (vals[i] !== null) r.push(vals[i]);
        for (let j = earlier.length - 1; j >= 0 && r.length < this.k; j--) r.push((earlier[j] as (typeof earlier)[number]).v);
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

  write(_st: ReaderState, _lo: number, _hi: number, _t: number, out: FeatureColumn, index: number, base?: unknown): void {
    if (base === undefined) out[index] = this.k === 0 ? this.counts.distinct : this.counts.top(this.k);
    else out[index] = this.k === 0 ? this.counts.distinctWith(base as ValueCounts) : this.counts.topWith(base as ValueCounts, this.k);
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

  write(_st: ReaderState, _lo: number, _hi: number, _t: number, out: FeatureColumn, index: number, base?: unknown): void {
    this.hll.useBase(base === undefined ? undefined : (base as HyperLogLog).registers);
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

  write(_st: ReaderState, _lo: number, _hi: number, _t: number, out: FeatureColumn, index: number, base?: unknown): void {
    out[index] = base === undefined ? this.sketch.quantile(this.q) : this.sketch.quantileWith(base as DDSketch, this.q);
  }
}

/** Decayed sum: a few operations on the key's decayed prefix (see decayPrefix.ts), never a pass over the window. */
class DecayReader implements WindowReader {
  constructor(
    private readonly field: number,
    /** Index into the key's decayed prefixes (Layout.decays). */
    private readonly decay: number,
  ) {}

  reset(): void {}
  enter(): void {}
  leave(): void {}

  write(st: ReaderState, lo: number, hi: number, t: number, out: FeatureColumn, index: number): void {
    out[index] = (st.decays[this.decay] as DecayPrefix).read(st.ts, st.vals[this.field] as Float64Array, lo - st.off, hi - st.off, t);
  }
}
