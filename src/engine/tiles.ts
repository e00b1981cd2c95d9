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
}

export class TileSnapshots {
  /** Per hop: snapshots in increasing k. */
  readonly byHop = new Map<number, Snapshot[]>();
  /** Per hop: the tile of the last event dropped. */
  readonly lastTile = new Map<number, number>();

  constructor(readonly hops: readonly number[]) {
    for (const h of hops) this.byHop.set(h, []);
  }

  /** Notes a dropped event at `pos` with time t; `prefix` gives the sums at pos when it starts a tile. */
  drop(pos: number, t: number, prefix: () => Float64Array): void {
    for (const h of this.hops) {
      const k = Math.floor(t / h);
      const last = this.lastTile.get(h);
      if (last !== undefined && k <= last) continue;
      (this.byHop.get(h) as Snapshot[]).push({ k, pos, p: prefix() });
      this.lastTile.set(h, k);
    }
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
    for (const list of this.byHop.values()) for (const s of list) b += 16 + s.p.byteLength;
    return b;
  }
}
