/**
 * Tiles for long hopping, tumbling and forever windows: bounded state per key.
 *
 * A key's state keeps prefix sums per event (see KeyState). For a window whose
 * start is always a multiple of its hop H, a read only needs the prefix at the
 * first event of a tile, never at events inside one. So once the watermark has
 * passed events, a tiled key drops them and keeps, per hop, one snapshot per
 * tile: the event position and the prefix sums at the tile's first event.
 * Reads then take P(start) from a snapshot and P(t) from the events kept
 * (those at or after the watermark): the same numbers the full event list
 * gives, so values are bit for bit those of an untiled replay.
 *
 * The aggregations read by window readers (first, last, the lists, value
 * counts, the sketches) keep per tile the partial state of their algebra
 * (algebra.ts), built with `add` from the tile's dropped events in position
 * order, and one running state of every dropped event for forever windows.
 * A read merges the states of the window's tiles (oldest first) and hands
 * them to the reader as the base of the events still kept; every such
 * merge is exact (bounded lists keep what first/last can still read, counts
 * and sketch buckets add up as integers, HLL registers take the larger), so
 * these values too are those of an untiled replay. decayedSum keeps no tile
 * state: it reads its events themselves, so a tiled key keeps the events of
 * its last 64 half-lives (Layout.tiled.lag).
 *
 * State per key and window: one snapshot per tile of the window (3 numbers
 * per summed field plus 2, and the readers' partial states) and the events
 * not yet passed by the watermark.
 */
import type { Algebra } from "./algebras/algebra.js";
import { partialBytes } from "./algebras/partialState.js";

/** Where a dropped event's numbers come from (KeyState): methods, so dropping an event allocates nothing. */
export interface TileSource {
  /** The prefix sums at absolute position pos (TileSnapshots.Snapshot.p). */
  prefixAt(pos: number): Float64Array;
  /** The event at array index i: its value for min/max feature d (NaN: null). */
  extremeInput(d: number, i: number): number;
  /** The event at array index i: its value for Layout.readers entry r (null: none). */
  readerInput(r: number, i: number): unknown;
}

/** A window reader's feature kept in tiles: its algebra and its window's hop (0: forever). */
export interface TilePartial {
  readonly hop: number;
  readonly algebra: Algebra<unknown, unknown>;
}

export interface Snapshot {
  /** Tile index: the tile covers [k·hop, (k + 1)·hop). */
  readonly k: number;
  /** Absolute position of the tile's first event. */
  readonly pos: number;
  /** Per numeric field f: psum, pcomp, pnn at that position (3f, 3f + 1, 3f + 2). */
  readonly p: Float64Array;
  /** Per min/max feature (Layout.deques): the extreme of the tile's dropped events (NaN: none). */
  readonly ext: Float64Array;
  /** Per reader of this hop (TileSnapshots.readersOf): its algebra's state over the tile's dropped events. */
  readonly parts: unknown[];
}

const NONE: readonly number[] = [];

export class TileSnapshots {
  /** Per hop: snapshots in increasing k. */
  readonly byHop = new Map<number, Snapshot[]>();
  /** Per hop: the tile of the last event dropped. */
  readonly lastTile = new Map<number, number>();
  /** Per min/max feature: the extreme of every dropped event (forever windows). */
  forever: Float64Array;
  /** Per hop (0: forever): the Layout.readers indices kept in its tiles, in the order of Snapshot.parts. */
  readonly readersOf = new Map<number, number[]>();
  /** Per reader of a forever window (readersOf.get(0)): its algebra's state over every dropped event. */
  foreverParts: unknown[];
  /** Per Layout.readers index: its place in readersOf of its hop (-1: not kept in tiles). */
  private readonly slotOf: number[];
  /** Changes whenever a tile state does (merged bases cached by a cursor are stale then). */
  version = 0;
  /** Whether any event was dropped (before that, a forever window's reads need no base). */
  droppedAny = false;

  constructor(
    readonly hops: readonly number[],
    /** The min/max features: "max" or "min" each. */
    readonly extremes: ReadonlyArray<"min" | "max">,
    /** Per Layout.readers index: how it is kept in tiles (undefined: it is not; decayedSum). */
    readonly partials: ReadonlyArray<TilePartial | undefined> = [],
  ) {
    for (const h of hops) this.byHop.set(h, []);
    this.forever = new Float64Array(extremes.length).fill(Number.NaN);
    this.slotOf = partials.map((p, r) => {
      if (p === undefined) return -1;
      let list = this.readersOf.get(p.hop);
      if (list === undefined) this.readersOf.set(p.hop, (list = []));
      list.push(r);
      return list.length - 1;
    });
    this.foreverParts = (this.readersOf.get(0) ?? []).map((r) => (partials[r] as TilePartial).algebra.init());
  }

  /**
   * Notes a dropped event: the one at absolute position `pos`, array index
   * `i` of `src`, with time t. A tile's first event gives its snapshot of
   * the prefix sums; every event goes into the extremes and the readers'
   * states (null inputs into none).
   */
  drop(pos: number, i: number, t: number, src: TileSource): void {
    this.version++;
    this.droppedAny = true;
    for (const h of this.hops) {
      const k = Math.floor(t / h);
      const list = this.byHop.get(h) as Snapshot[];
      const last = this.lastTile.get(h);
      const readers = this.readersOf.get(h) ?? NONE;
      if (last === undefined || k > last) {
        const parts = readers.map((r) => (this.partials[r] as TilePartial).algebra.init());
        list.push({ k, pos, p: src.prefixAt(pos), ext: new Float64Array(this.extremes.length).fill(Number.NaN), parts });
        this.lastTile.set(h, k);
      }
      const snap = list[list.length - 1];
      if (snap === undefined || snap.k !== k) continue;
      for (let d = 0; d < this.extremes.length; d++) snap.ext[d] = better(this.extremes[d] as "min" | "max", snap.ext[d] as number, src.extremeInput(d, i));
      this.addTo(snap.parts, readers, i, t, src);
    }
    for (let d = 0; d < this.extremes.length; d++) this.forever[d] = better(this.extremes[d] as "min" | "max", this.forever[d] as number, src.extremeInput(d, i));
    this.addTo(this.foreverParts, this.readersOf.get(0) ?? NONE, i, t, src);
  }

  private addTo(parts: unknown[], readers: readonly number[], i: number, t: number, src: TileSource): void {
    for (let j = 0; j < readers.length; j++) {
      const r = readers[j] as number;
      const v = src.readerInput(r, i);
      if (v !== null) parts[j] = (this.partials[r] as TilePartial).algebra.add(parts[j], v, t);
    }
  }

  /**
   * Reader r's algebra state over the dropped events of its window read from
   * tile k on: a fresh state (tiles merged oldest first, none changed), or
   * undefined when no event that late was dropped. Forever windows: a copy
   * of the running state. A new state per call, so readers may key what they
   * derive from a base on its identity.
   */
  baseFrom(r: number, k: number): unknown {
    const p = this.partials[r];
    const slot = this.slotOf[r] ?? -1;
    if (p === undefined || slot < 0) return undefined;
    if (p.hop === 0) return this.droppedAny ? p.algebra.merge(p.algebra.init(), this.foreverParts[slot]) : undefined;
    const list = this.byHop.get(p.hop) as Snapshot[];
    let i = this.indexAtOrAfter(list, k);
    if (i === list.length) return undefined;
    let s = p.algebra.init();
    for (; i < list.length; i++) s = p.algebra.merge(s, (list[i] as Snapshot).parts[slot]);
    return s;
  }

  /** The extreme of min/max feature d over the dropped events of tiles k and later (NaN: none). */
  extremeFrom(hop: number, k: number, d: number): number {
    const list = this.byHop.get(hop) as Snapshot[];
    const kind = this.extremes[d] as "min" | "max";
    let v = Number.NaN;
    for (let i = list.length - 1; i >= 0 && (list[i] as Snapshot).k >= k; i--) v = better(kind, v, (list[i] as Snapshot).ext[d] as number);
    return v;
  }

  /** The snapshot of the first dropped event at or after tile k's start, if any event that late was dropped. */
  atOrAfter(hop: number, k: number): Snapshot | undefined {
    const list = this.byHop.get(hop) as Snapshot[];
    return list[this.indexAtOrAfter(list, k)];
  }

  private indexAtOrAfter(list: readonly Snapshot[], k: number): number {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((list[mid] as Snapshot).k < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Forgets snapshots of tiles before `k` for that hop (no read can start there any more). */
  forgetBefore(hop: number, k: number): void {
    const list = this.byHop.get(hop) as Snapshot[];
    let n = 0;
    while (n < list.length && (list[n] as Snapshot).k < k) n++;
    if (n > 0) {
      list.splice(0, n);
      this.version++;
    }
  }

  get bytes(): number {
    let b = 0;
    for (const list of this.byHop.values()) {
      for (const s of list) {
        b += 16 + s.p.byteLength + s.ext.byteLength;
        for (const part of s.parts) b += partialBytes(part);
      }
    }
    for (const part of this.foreverParts) b += partialBytes(part);
    return b + this.forever.byteLength;
  }
}

/** The better of two values for a min or max (NaN stands for none and never wins). */
export function better(kind: "min" | "max", a: number, b: number): number {
  if (b !== b) return a;
  if (a !== a) return b;
  return kind === "max" ? (b > a ? b : a) : b < a ? b : a;
}
