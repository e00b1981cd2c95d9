import { FeatureCode } from "./featureCode.js";
import { emptyValue } from "./emptyValue.js";
import { DecayPrefix } from "./decayPrefix.js";
import { TileSnapshots, type TileSource } from "./tiles.js";
import { readTiled } from "./tiledRead.js";
import { windowBound, type Layout } from "./layout.js";
import { spread, windowSum } from "./windowMath.js";
import type { MonotonicDeque, WindowCursor } from "./windowCursor.js";
import type { FeatureColumn, WindowReader } from "./windowReaders.js";

/**
 * All state of one key of one aggregate: its retained events sorted by event
 * time, with per-field values and prefix sums.
 *
 * Invariants:
 * - events at absolute positions [first, end) are retained, sorted by time;
 *   ties keep arrival order; position p lives at array index p − off;
 * - for a prefixed field f, psum[f][p − off] is the sum of its non-null values
 *   over all events of the key before position p (evicted ones included), for
 *   every p in [first, end] — the slot at `end` holds the total. The sum is a
 *   compensated pair (psum + pcomp, Kahan–Babuška), so differences of large
 *   prefixes stay exact to about an ulp of the window sum; pnn counts the
 *   values. A window sum is P(hi) − P(lo): a function of the sorted event
 *   sequence only, so the online path (inserts, evictions, restarts) and the
 *   offline replay compute bit-identical values.
 */
export class KeyState implements TileSource {
  readonly key: string;
  readonly keyValues: readonly unknown[];
  readonly group: number;
  readonly layout: Layout;

  /** Events that fit before the arrays grow; prefix arrays have one more slot. */
  cap: number;
  off = 0;
  first = 0;
  end = 0;
  ts: Float64Array;
  vals: Float64Array[];
  psum: Float64Array[];
  pcomp: Float64Array[];
  pnn: Float64Array[];
  /** Per value field (Layout.valueFields): the events' values themselves, null for missing. */
  refs: unknown[][];
  /** Per Layout.decays entry: decayed prefix slots, like the prefix sums (see decayPrefix.ts). */
  decays: DecayPrefix[];
  /** Positions before this one have had their outputs emitted. */
  emitPos = 0;
  /** Marks for the operator's lists (cheaper than a Set lookup per event). */
  dirtyMark = false;
  pendingMark = false;
  compactMark = false;
  /** AggregateOperator's grouped batch: the key's index among the batch's keys (-1: none). */
  runKey = -1;
  /** The key's index in a parallel replay's partition (set by the worker that holds it). */
  slot = -1;
  readCursor: WindowCursor | undefined;
  emitCursor: WindowCursor | undefined;
  /** Tiled layouts: snapshots of the prefix sums at tile starts of dropped events (see tiles.ts). */
  tiles: TileSnapshots | undefined;
  /** Absolute position of the key's first event ever (forever windows start there, with zero sums). */
  originPos = 0;

  constructor(key: string, keyValues: readonly unknown[], group: number, layout: Layout, capacity = 8) {
    this.key = key;
    this.keyValues = keyValues;
    this.group = group;
    this.layout = layout;
    this.cap = capacity;
    this.ts = new Float64Array(capacity);
    this.vals = [];
    this.psum = [];
    this.pcomp = [];
    this.pnn = [];
    this.refs = layout.valueFields.map(() => []);
    this.tiles =
      layout.tiled === undefined
        ? undefined
        : new TileSnapshots(
            layout.tiled.hops,
            layout.deques.map((d) => d.kind),
            layout.tiled.partials,
          );
    this.decays = layout.decays.map((d) => new DecayPrefix(d.field, d.halfLife, capacity));
    const empty = new Float64Array(0);
    for (let f = 0; f < layout.fields.length; f++) {
      const prefixed = layout.prefixed[f] === true;
      this.vals.push(new Float64Array(capacity));
      this.psum.push(prefixed ? new Float64Array(capacity + 1) : empty);
      this.pcomp.push(prefixed ? new Float64Array(capacity + 1) : empty);
      this.pnn.push(prefixed ? new Float64Array(capacity + 1) : empty);
    }
  }

  /** Event time of the key's latest event (NaN before any): what serving reports as its timestamp and TTLs count from. */
  latest = Number.NaN;

  get size(): number {
    return this.end - this.first;
  }

  /** Appends one event; `values[f]` is the numeric field value (NaN for null), `refValues[r]` the value field's. */
  append(t: number, values: ArrayLike<number>, refValues?: readonly unknown[]): void {
    if (this.end - this.off >= this.cap) this.makeRoom();
    if (!(t <= this.latest)) this.latest = t;
    const i = this.end - this.off;
    if (this.end === this.first || t >= (this.ts[i - 1] as number)) {
      this.ts[i] = t;
      const prefixed = this.layout.prefixed;
      for (let f = 0; f < this.vals.length; f++) {
        const v = values[f] as number;
        (this.vals[f] as Float64Array)[i] = v;
        if (prefixed[f] === true) addToPrefix(this.psum[f] as Float64Array, this.pcomp[f] as Float64Array, this.pnn[f] as Float64Array, i, v);
      }
      for (const d of this.decays) d.step(i, t, values[d.field] as number);
      for (let r = 0; r < this.refs.length; r++) (this.refs[r] as unknown[])[i] = refValues?.[r] ?? null;
      this.end++;
    } else {
      this.insert(t, values, refValues);
    }
  }

  /**
   * Appends a run of this key's events, each after evicting up to
   * `horizon`, exactly as evict then append per event: event i at times[i]
   * with field f value cols[f][i], for i from `from` to `to` − 1. In-order
   * events with room go straight into the arrays.
   */
  appendRun(times: ArrayLike<number>, cols: readonly Float64Array[], from: number, to: number, horizon: number, scratch: Float64Array): void {
    const nf = this.vals.length;
    const plain = this.decays.length === 0 && this.refs.length === 0;
    const prefixed = this.layout.prefixed;
    let i = from;
    while (i < to) {
      // A stretch of in-order events with room, none to evict: the oldest event
      // is after the horizon, so every event at or after the latest one is too.
      const ts = this.ts;
      const off = this.off;
      let end = this.end;
      if (plain && end > this.first && (ts[this.first - off] as number) > horizon) {
        const room = this.cap + off;
        let last = ts[end - 1 - off] as number;
        // One aggregated field (the usual case) is read through locals, without the loop over fields.
        const one = nf === 1;
        const col = cols[0] as Float64Array;
        const vals = this.vals[0] as Float64Array;
        const ps = prefixed[0] === true ? (this.psum[0] as Float64Array) : undefined;
        const pc = this.pcomp[0] as Float64Array;
        const pn = this.pnn[0] as Float64Array;
        for (; i < to && end < room; i++) {
          const t = times[i] as number;
          if (!(t >= last)) break;
          last = t;
          const k = end - off;
          ts[k] = t;
          if (one) {
            const v = col[i] as number;
            vals[k] = v;
            if (ps !== undefined) addToPrefix(ps, pc, pn, k, v);
          } else {
            for (let f = 0; f < nf; f++) {
              const v = (cols[f] as Float64Array)[i] as number;
              (this.vals[f] as Float64Array)[k] = v;
              if (prefixed[f] === true) addToPrefix(this.psum[f] as Float64Array, this.pcomp[f] as Float64Array, this.pnn[f] as Float64Array, k, v);
            }
          }
          end++;
        }
        if (end > this.end) {
          this.end = end;
          if (!(last <= this.latest)) this.latest = last;
        }
        if (i === to) return;
      }
      // One event the general way: evict()'s own test, then append.
      const t = times[i] as number;
      if (this.first < this.end && (this.ts[this.first - this.off] as number) <= horizon) this.evict(horizon);
      for (let f = 0; f < nf; f++) scratch[f] = (cols[f] as Float64Array)[i] as number;
      this.append(t, scratch);
      i++;
    }
  }

  /** Out-of-order insert: after every event <= t, then prefix sums recomputed from there. */
  private insert(t: number, values: ArrayLike<number>, refValues: readonly unknown[] | undefined): void {
    const p = this.upperBound(t);
    const i = p - this.off;
    const n = this.end - this.off;
    this.ts.copyWithin(i + 1, i, n);
    this.ts[i] = t;
    for (let f = 0; f < this.vals.length; f++) {
      const vf = this.vals[f] as Float64Array;
      vf.copyWithin(i + 1, i, n);
      vf[i] = values[f] as number;
      if (this.layout.prefixed[f] !== true) continue;
      // The prefix before position p is unchanged; recompute from p onward with
      // the same steps as an append, so values match a sorted replay exactly.
      const ps = this.psum[f] as Float64Array;
      const pc = this.pcomp[f] as Float64Array;
      const pn = this.pnn[f] as Float64Array;
      for (let j = i; j <= n; j++) addToPrefix(ps, pc, pn, j, vf[j] as number);
    }
    for (const d of this.decays) {
      const vf = this.vals[d.field] as Float64Array;
      for (let j = i; j <= n; j++) d.step(j, this.ts[j] as number, vf[j] as number);
    }
    for (let r = 0; r < this.refs.length; r++) (this.refs[r] as unknown[]).splice(i, 0, refValues?.[r] ?? null);
    this.end++;
    this.readCursor?.insertedAt(p);
    this.emitCursor?.insertedAt(p);
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

  /** Drops events with time <= horizon (cheap when there are none). Prefix values are kept, so later sums are unchanged. */
  evict(horizon: number): void {
    const ts = this.ts;
    let first = this.first;
    while (first < this.end && (ts[first - this.off] as number) <= horizon) first++;
    if (first === this.first) return;
    this.first = first;
    if (this.emitPos < first) this.emitPos = first;
    this.readCursor?.evictedBefore(first);
    this.emitCursor?.evictedBefore(first);
  }

  /**
   * Tiled layouts: drops the events before `before` (the watermark: reads
   * are at or after it) less Layout.tiled.lag (decayedSum still reads those
   * one by one) into tiles (see tiles.ts): a prefix snapshot at each tile
   * start among them and the readers' states per tile; and forgets the
   * tiles no read can start in.
   */
  compactTiled(before: number): void {
    const tiles = this.tiles;
    const tiled = this.layout.tiled;
    if (tiles === undefined || tiled === undefined) return;
    const ts = this.ts;
    // decayedSum reads its events themselves: those within `lag` of a read stay.
    const cut = before - tiled.lag;
    let p = this.first;
    while (p < this.end && (ts[p - this.off] as number) < cut) {
      tiles.drop(p, p - this.off, ts[p - this.off] as number, this);
      p++;
    }
    if (p === this.first) return;
    this.first = p;
    if (this.emitPos < p) this.emitPos = p;
    this.readCursor?.evictedBefore(p);
    this.emitCursor?.evictedBefore(p);
    // A read at t >= before starts at or after tile ⌊before / hop⌋ + 1 − size / hop.
    for (const h of tiles.hops) {
      const longest = Math.max(...this.layout.windows.filter((w) => w.hop === h).map((w) => w.size));
      tiles.forgetBefore(h, Math.floor(before / h) + 1 - longest / h);
    }
    if (this.cap > 64 && this.end - this.first < this.cap / 4) this.makeRoom(Math.max(8, 2 * (this.end - this.first)));
  }

  /** TileSource: the event at array index i, its value for min/max feature d (NaN: null). */
  extremeInput(d: number, i: number): number {
    return (this.vals[(this.layout.deques[d] as (typeof this.layout.deques)[number]).field] as Float64Array)[i] as number;
  }

  /** TileSource: the event at array index i, its value for Layout.readers entry r (null: none). */
  readerInput(r: number, i: number): unknown {
    const slot = this.layout.readers[r] as (typeof this.layout.readers)[number];
    if (!slot.numeric) return (this.refs[slot.field] as unknown[])[i] ?? null;
    const v = (this.vals[slot.field] as Float64Array)[i] as number;
    return v === v ? v : null;
  }

  /** TileSource: psum, pcomp and pnn of every field at absolute position p (zeros for fields without sums). */
  prefixAt(p: number): Float64Array {
    const nf = this.vals.length;
    const out = new Float64Array(3 * nf);
    const i = p - this.off;
    for (let f = 0; f < nf; f++) {
      if (this.layout.prefixed[f] !== true) continue;
      out[3 * f] = (this.psum[f] as Float64Array)[i] as number;
      out[3 * f + 1] = (this.pcomp[f] as Float64Array)[i] as number;
      out[3 * f + 2] = (this.pnn[f] as Float64Array)[i] as number;
    }
    return out;
  }

  /** Bytes of this key's arrays and snapshots (for the bounded-memory test and stats). */
  stateBytes(): number {
    let b = this.ts.byteLength;
    for (let f = 0; f < this.vals.length; f++) {
      b += (this.vals[f] as Float64Array).byteLength + (this.psum[f] as Float64Array).byteLength;
      b += (this.pcomp[f] as Float64Array).byteLength + (this.pnn[f] as Float64Array).byteLength;
    }
    for (const r of this.refs) b += 8 * r.length;
    for (const d of this.decays) b += d.s.byteLength + d.c.byteLength + d.a.byteLength + d.e.byteLength;
    return b + (this.tiles?.bytes ?? 0);
  }

  /** Compacts evicted space away, or doubles the arrays (or resizes them to `capacity`). */
  private makeRoom(capacity?: number): void {
    const shift = this.first - this.off;
    const n = this.end - this.off;
    const compact = capacity === undefined && shift > 0 && this.end - this.first < this.cap / 2;
    const cap = capacity ?? (compact ? this.cap : this.cap * 2);
    const move = (a: Float64Array, extra: number): Float64Array => {
      if (compact) {
        a.copyWithin(0, shift, n + extra);
        return a;
      }
      const b = new Float64Array(cap + extra);
      b.set(a.subarray(shift, n + extra));
      return b;
    };
    this.ts = move(this.ts, 0);
    for (let f = 0; f < this.vals.length; f++) {
      this.vals[f] = move(this.vals[f] as Float64Array, 0);
      if (this.layout.prefixed[f] === true) {
        this.psum[f] = move(this.psum[f] as Float64Array, 1);
        this.pcomp[f] = move(this.pcomp[f] as Float64Array, 1);
        this.pnn[f] = move(this.pnn[f] as Float64Array, 1);
      }
    }
    for (const d of this.decays) {
      d.s = move(d.s, 1);
      d.c = move(d.c, 1);
      d.a = move(d.a, 1);
      d.e = move(d.e, 1);
    }
    for (let r = 0; r < this.refs.length; r++) this.refs[r] = (this.refs[r] as unknown[]).slice(shift, n);
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
  readInto(cur: WindowCursor, t: number, out: readonly FeatureColumn[], outIndex: number): void {
    if (this.tiles !== undefined) {
      readTiled(this, this.tiles, cur, t, out, outIndex);
      return;
    }
    const kernel = this.layout.readKernel;
    if (kernel !== undefined) kernel(this, cur, t, out, outIndex);
    else this.readIntoGeneric(cur, t, out, outIndex);
  }

  /** Moves a cursor to read time t: forward from where it is, or rebuilt. */
  moveCursor(cur: WindowCursor, t: number): void {
    if (cur.valid && t >= cur.t) this.advance(cur, t);
    else this.rebuild(cur, t);
  }

  /** The reference read path (see readKernel.ts for the generated one). */
  readIntoGeneric(cur: WindowCursor, t: number, out: readonly FeatureColumn[], outIndex: number): void {
    this.moveCursor(cur, t);
    const feats = this.layout.features;
    const wins = this.layout.windows;
    const off = this.off;
    const hi = cur.hi - off;
    const los = cur.lo;
    for (let k = 0; k < feats.length; k++) {
      const fs = feats[k] as (typeof feats)[number];
      const gap = (wins[fs.window] as (typeof wins)[number]).gap;
      if (gap > 0 && cur.hi > (los[fs.window] as number) && t - this.timeAt(cur.hi - 1) > gap) {
        (out[k] as FeatureColumn)[outIndex] = emptyValue(fs.kind); // the session closed before t
        continue;
      }
      const lo = (los[fs.window] as number) - off;
      let v: number;
      switch (fs.code) {
        case FeatureCode.Count:
          v = hi - lo;
          break;
        case FeatureCode.Sum: {
          const ps = this.psum[fs.field] as Float64Array;
          const pc = this.pcomp[fs.field] as Float64Array;
          v = lo === hi ? 0 : (ps[hi] as number) - (ps[lo] as number) + ((pc[hi] as number) - (pc[lo] as number));
          break;
        }
        case FeatureCode.Avg: {
          const pn = this.pnn[fs.field] as Float64Array;
          const n = (pn[hi] as number) - (pn[lo] as number);
          const ps = this.psum[fs.field] as Float64Array;
          const pc = this.pcomp[fs.field] as Float64Array;
          v = n === 0 ? Number.NaN : ((ps[hi] as number) - (ps[lo] as number) + ((pc[hi] as number) - (pc[lo] as number))) / n;
          break;
        }
        case FeatureCode.Variance:
        case FeatureCode.Stddev: {
          const pn = this.pnn[fs.field] as Float64Array;
          const n = (pn[hi] as number) - (pn[lo] as number);
          const sq = fs.square;
          v =
            n === 0
              ? Number.NaN
              : spread(
                  fs.code,
                  n,
                  windowSum(this.psum[fs.field] as Float64Array, this.pcomp[fs.field] as Float64Array, hi, lo, 0, 0),
                  windowSum(this.psum[sq] as Float64Array, this.pcomp[sq] as Float64Array, hi, lo, 0, 0),
                );
          break;
        }
        case FeatureCode.Window:
          (cur.readers[fs.reader] as WindowReader).write(this, (los[fs.window] as number), cur.hi, t, out[k] as FeatureColumn, outIndex);
          continue;
        default:
          v = (cur.deques[fs.deque] as MonotonicDeque).frontValue();
      }
      (out[k] as Float64Array)[outIndex] = v;
    }
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
    const los = cur.lo;
    const before = cur.before;
    for (let w = 0; w < wins.length; w++) {
      const win = wins[w] as (typeof wins)[number];
      let lo = los[w] as number;
      before[w] = lo;
      if (win.gap > 0) {
        // A session restarts after every pause longer than the gap.
        for (let p = Math.max(from, this.first + 1); p < hi; p++) if ((ts[p - off] as number) - (ts[p - 1 - off] as number) > win.gap) lo = p;
      } else {
        const bound = windowBound(win, t);
        while (lo < hi && (ts[lo - off] as number) <= bound) lo++;
      }
      los[w] = lo;
    }
    for (let r = 0; r < cur.readers.length; r++) {
      const reader = cur.readers[r] as WindowReader;
      const w = (L.readers[r] as (typeof L.readers)[number]).window;
      reader.enter(this, from, hi);
      reader.leave(this, before[w] as number, los[w] as number);
    }
    const dqs = L.deques;
    for (let d = 0; d < dqs.length; d++) {
      const slot = dqs[d] as (typeof dqs)[number];
      const dq = cur.deques[d] as MonotonicDeque;
      const vals = this.vals[slot.field] as Float64Array;
      const isMax = slot.kind === "max";
      for (let p = from; p < hi; p++) {
        const v = vals[p - off] as number;
        if (v === v) dq.push(p, v, isMax); // null never wins min or max
      }
      dq.trim(los[slot.window] as number);
    }
    cur.t = t;
  }

  /** Positions a cursor at t from scratch (binary searches, deques refilled). */
  rebuild(cur: WindowCursor, t: number): void {
    const L = this.layout;
    cur.reset();
    const hi = this.upperBound(t);
    for (let w = 0; w < L.windows.length; w++) {
      const win = L.windows[w] as (typeof L.windows)[number];
      if (win.gap > 0) {
        let lo = hi;
        if (hi > this.first) {
          lo = hi - 1;
          while (lo > this.first && this.timeAt(lo) - this.timeAt(lo - 1) <= win.gap) lo--;
        }
        cur.lo[w] = lo;
      } else {
        cur.lo[w] = this.upperBound(windowBound(win, t));
      }
    }
    const off = this.off;
    for (let d = 0; d < L.deques.length; d++) {
      const slot = L.deques[d] as (typeof L.deques)[number];
      const dq = cur.deques[d] as MonotonicDeque;
      const vals = this.vals[slot.field] as Float64Array;
      for (let p = cur.lo[slot.window] as number; p < hi; p++) {
        const v = vals[p - off] as number;
        if (v === v) dq.push(p, v, slot.kind === "max");
      }
    }
    for (let r = 0; r < cur.readers.length; r++) (cur.readers[r] as WindowReader).enter(this, cur.lo[(L.readers[r] as (typeof L.readers)[number]).window] as number, hi);
    cur.hi = hi;
    cur.t = t;
    cur.valid = true;
  }
}

/**
 * Writes prefix slot i + 1 from slot i and value v (NaN = null): TwoSum keeps
 * the rounding error of each addition in the compensation.
 */
function addToPrefix(ps: Float64Array, pc: Float64Array, pn: Float64Array, i: number, v: number): void {
  const s = ps[i] as number;
  const c = pc[i] as number;
  const n = pn[i] as number;
  if (v === v) {
    const x = s + v;
    const bp = x - s;
    ps[i + 1] = x;
    pc[i + 1] = c + ((s - (x - bp)) + (v - bp));
    pn[i + 1] = n + 1;
  } else {
    ps[i + 1] = s;
    pc[i + 1] = c;
    pn[i + 1] = n;
  }
}
