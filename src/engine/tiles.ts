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
 * State per key and window: one snapshot per tile of the window (3 numbers
 * per summed field plus 2) and the events not yet passed by the watermark.
 */
export interface Snapshot {
  /** Tile index: the tile covers [k·hop, (k + 1)·hop). */
  readonly k: number;
  /** Absolute position of the tile's first event. */
  readonly pos: number;
  /** Per numeric field f: psum, pcomp, pnn at that position (3f, 3f + 1, 3f + 2). */
  readonly p: Float64Array;
  /** Per min/max feature (Layout.deques): the extreme of the tile's dropped events (NaN: none). */
  readonly ext: Float64Array;
}

export class TileSnapshots {
  /** Per hop: snapshots in increasing k. */
  readonly byHop = new Map<number, Snapshot[]>();
  /** Per hop: the tile of the last event dropped. */
  readonly lastTile = new Map<number, number>();
  /** Per min/max feature: the extreme of every dropped event (forever windows). */
  forever: Float64Array;

  constructor(
    readonly hops: readonly number[],
    /** The min/max features: "max" or "min" each. */
    readonly extremes: ReadonlyArray<"min" | "max">,
  ) {
    for (const h of hops) this.byHop.set(h, []);
    this.forever = new Float64Array(extremes.length).fill(Number.NaN);
  }

  /**
   * Notes a dropped event at `pos` with time t; `prefix` gives the sums at
   * pos when it starts a tile, `value(d)` its value for min/max feature d.
   */
  drop(pos: number, t: number, prefix: () => Float64Array, value: (d: number) => number): void {
    for (const h of this.hops) {
      const k = Math.floor(t / h);
      const list = this.byHop.get(h) as Snapshot[];
      const last = this.lastTile.get(h);
      if (last === undefined || k > last) {
        list.push({ k, pos, p: prefix(), ext: new Float64Array(this.extremes.length).fill(Number.NaN) });
        this.lastTile.set(h, k);
      }
      const snap = list[list.length - 1];
      if (snap !== undefined && snap.k === k) for (let d = 0; d < this.extremes.length; d++) snap.ext[d] = better(this.extremes[d] as "min" | "max", snap.ext[d] as number, value(d));
    }
    for (let d = 0; d < this.extremes.length; d++) this.forever[d] = better(this.extremes[d] as "min" | "max", this.forever[d] as number, value(d));
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
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((list[mid] as Snapshot).k < k) lo = mid + 1;
      else hi = mid;
    }
    return list[lo];
  }

  /** Forgets snapshots of tiles before `k` for that hop (no read can start there any more). */
  forgetBefore(hop: number, k: number): void {
    const list = this.byHop.get(hop) as Snapshot[];
    let n = 0;
    while (n < list.length && (list[n] as Snapshot).k < k) n++;
    if (n > 0) list.splice(0, n);
  }

  get bytes(): number {
    let b = 0;
    for (const list of this.byHop.values()) for (const s of list) b += 16 + s.p.byteLength + s.ext.byteLength;
    return b + this.forever.byteLength;
  }
}

/** The better of two values for a min or max (NaN stands for none and never wins). */
export function better(kind: "min" | "max", a: number, b: number): number {
  if (b !== b) return a;
  if (a !== a) return b;
  return kind === "max" ? (b > a ? b : a) : b < a ? b : a;
}
