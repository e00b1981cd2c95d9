import { FeatureCode } from "./featureCode.js";
import type { Layout } from "./layout.js";
import { better, type Snapshot, type TileSnapshots } from "./tiles.js";
import type { WindowCursor } from "./windowCursor.js";
import { spread, windowSum } from "./windowMath.js";
import type { FeatureColumn, ReaderState, WindowReader } from "./windowReaders.js";

const ZERO_PREFIX = new Float64Array(0);

/** What a tiled read sees of a key's state (KeyState has these). */
export interface TiledState extends ReaderState {
  readonly layout: Layout;
  readonly first: number;
  readonly originPos: number;
  readonly psum: readonly Float64Array[];
  readonly pcomp: readonly Float64Array[];
  readonly pnn: readonly Float64Array[];
  upperBound(t: number): number;
  moveCursor(cur: WindowCursor, t: number): void;
}

/**
 * Reads a tiled key at t (t at or after the watermark, see tiles.ts):
 * - count, sum, avg, variance: P(t) from the kept events, P(window start)
 *   from a tile snapshot when the start lies among dropped events; the same
 *   arithmetic as KeyState.readIntoGeneric;
 * - min, max: the extremes of the window's tiles, then the kept events;
 * - window readers: the cursor keeps them over the window's kept events
 *   (from max(first kept, window start)), and they merge that with the
 *   algebra state of the window's dropped events (TileSnapshots.baseFrom,
 *   cached in the cursor until a tile changes).
 */
export function readTiled(st: TiledState, tiles: TileSnapshots, cur: WindowCursor, t: number, out: readonly FeatureColumn[], outIndex: number): void {
  const layout = st.layout;
  const feats = layout.features;
  const wins = layout.windows;
  const off = st.off;
  // The cursor keeps the window readers; its hi is upperBound(t) once moved.
  let hiPos: number;
  if (layout.readers.length > 0) {
    st.moveCursor(cur, t);
    hiPos = cur.hi;
  } else {
    hiPos = st.upperBound(t);
  }
  const hi = hiPos - off;
  for (let k = 0; k < feats.length; k++) {
    const fs = feats[k] as (typeof feats)[number];
    const w = wins[fs.window] as (typeof wins)[number];
    const forever = w.size === Number.POSITIVE_INFINITY;
    // Tile-aligned: the window covers tiles ⌊start / hop⌋ on.
    const start = forever ? Number.NEGATIVE_INFINITY : Math.floor(t / w.hop) * w.hop + w.hop - w.size;
    if (fs.code === FeatureCode.Window) {
      const r = fs.reader;
      const reader = cur.readers[r] as WindowReader;
      const base = baseOf(tiles, cur, r, forever ? 0 : start / w.hop);
      reader.write(st, cur.lo[fs.window] as number, cur.hi, t, out[k] as FeatureColumn, outIndex, base);
      continue;
    }
    if (fs.code === FeatureCode.Extremum) {
      // Dropped events from their tiles, then the kept events in the window up to t.
      const kind = (layout.deques[fs.deque] as (typeof layout.deques)[number]).kind;
      let e: number;
      let from: number;
      if (forever) {
        e = tiles.forever[fs.deque] as number;
        from = st.first;
      } else {
        e = tiles.extremeFrom(w.hop, start / w.hop, fs.deque);
        from = Math.max(st.first, st.upperBound(start - 1));
      }
      const vals = st.vals[fs.field] as Float64Array;
      for (let p = from; p < hiPos; p++) e = better(kind, e, vals[p - off] as number);
      (out[k] as Float64Array)[outIndex] = e;
      continue;
    }
    // The window's first position, and its prefix sums: from a snapshot or from the arrays.
    let loPos: number;
    let snap: Float64Array | undefined;
    if (forever) {
      loPos = st.originPos;
      if (loPos < st.first) snap = ZERO_PREFIX;
    } else {
      const s: Snapshot | undefined = tiles.atOrAfter(w.hop, start / w.hop);
      if (s !== undefined) {
        loPos = s.pos;
        snap = s.p;
      } else {
        loPos = st.upperBound(start - 1);
      }
    }
    const lo = loPos - off;
    let v: number;
    switch (fs.code) {
      case FeatureCode.Count:
        v = hiPos - loPos;
        break;
      case FeatureCode.Sum:
        v = loPos === hiPos ? 0 : tiledSum(st, fs.field, hi, lo, snap);
        break;
      case FeatureCode.Avg: {
        const n = tiledCount(st, fs.field, hi, lo, snap);
        v = n === 0 ? Number.NaN : tiledSum(st, fs.field, hi, lo, snap) / n;
        break;
      }
      case FeatureCode.Variance:
      case FeatureCode.Stddev: {
        const n = tiledCount(st, fs.field, hi, lo, snap);
        v = n === 0 ? Number.NaN : spread(fs.code, n, tiledSum(st, fs.field, hi, lo, snap), tiledSum(st, fs.square, hi, lo, snap));
        break;
      }
      default:
        throw new Error(`tiled read: unsupported feature ${fs.name}`);
    }
    (out[k] as Float64Array)[outIndex] = v;
  }
}

/** Reader r's state over the window's dropped events from tile k on (see TileSnapshots.baseFrom), cached per cursor. */
function baseOf(tiles: TileSnapshots, cur: WindowCursor, r: number, k: number): unknown {
  const cached = cur.tileBases[r];
  if (cached !== undefined && cached.k === k && cached.version === tiles.version) return cached.base;
  const base = tiles.baseFrom(r, k);
  cur.tileBases[r] = { k, version: tiles.version, base };
  return base;
}

/** Field f's window sum from lo (array index, or the snapshot when given) to hi. */
function tiledSum(st: TiledState, f: number, hi: number, lo: number, snap: Float64Array | undefined): number {
  return windowSum(st.psum[f] as Float64Array, st.pcomp[f] as Float64Array, hi, snap === undefined ? lo : -1, snap?.[3 * f] ?? 0, snap?.[3 * f + 1] ?? 0);
}

/** Field f's non-null count from lo (array index, or the snapshot when given) to hi. */
function tiledCount(st: TiledState, f: number, hi: number, lo: number, snap: Float64Array | undefined): number {
  const pn = st.pnn[f] as Float64Array;
  return (pn[hi] as number) - (snap === undefined ? (pn[lo] as number) : (snap[3 * f + 2] ?? 0));
}
