import { KeyState } from "./keyState.js";
import type { Layout } from "./layout.js";
import type { TileSnapshots } from "./tiles.js";

/**
 * A key's state as plain data (Buffers and numbers) so that stores, which
 * never import the engine, can persist it. Only retained events are written.
 */
export interface EncodedKeyState {
  readonly v: 2 | 3;
  readonly key: string;
  readonly keyValues: readonly unknown[];
  readonly group: number;
  readonly n: number;
  readonly ts: Buffer;
  readonly vals: readonly Buffer[];
  readonly psum: readonly Buffer[];
  readonly pcomp: readonly Buffer[];
  readonly pnn: readonly Buffer[];
  /** Event time of the key's latest event; absent in states written before it was kept. */
  readonly latest?: number;
  /** Format 3: the value fields' values (Layout.valueFields), retained events only. */
  readonly refs?: ReadonlyArray<readonly unknown[]>;
  /** Format 3, tiled layouts: the first event's position and the tile snapshots, positions relative to the first kept event. */
  readonly tiles?: {
    readonly origin: number;
    readonly hops: ReadonlyArray<{ readonly hop: number; readonly last: number | null; readonly snaps: ReadonlyArray<readonly [number, number, Buffer, Buffer]> }>;
    /** The min/max of every dropped event, per min/max feature. */
    readonly forever: Buffer;
  };
}

function toBuffer(a: Float64Array, from: number, to: number): Buffer {
  const part = a.subarray(from, to);
  return Buffer.from(part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength));
}

function toFloats(b: Buffer | Uint8Array, capacity: number): Float64Array {
  const out = new Float64Array(capacity);
  const bytes = new Uint8Array(out.buffer, 0, b.byteLength);
  bytes.set(b);
  return out;
}

export function encodeKeyState(st: KeyState): EncodedKeyState {
  const from = st.first - st.off;
  const to = st.end - st.off;
  return {
    v: 3,
    key: st.key,
    keyValues: st.keyValues,
    group: st.group,
    n: to - from,
    ts: toBuffer(st.ts, from, to),
    vals: st.vals.map((a) => toBuffer(a, from, to)),
    // Prefix arrays carry one more slot: the totals at `end`.
    psum: st.psum.map((a) => (a.length === 0 ? Buffer.alloc(0) : toBuffer(a, from, to + 1))),
    pcomp: st.pcomp.map((a) => (a.length === 0 ? Buffer.alloc(0) : toBuffer(a, from, to + 1))),
    pnn: st.pnn.map((a) => (a.length === 0 ? Buffer.alloc(0) : toBuffer(a, from, to + 1))),
    refs: st.refs.map((a) => a.slice(from, to)),
    ...(Number.isNaN(st.latest) ? {} : { latest: st.latest }),
    ...(st.tiles === undefined
      ? {}
      : {
          tiles: {
            origin: st.originPos - st.first,
            hops: st.tiles.hops.map((hop) => ({
              hop,
              last: (st.tiles as TileSnapshots).lastTile.get(hop) ?? null,
              snaps: ((st.tiles as TileSnapshots).byHop.get(hop) ?? []).map((s) => [s.k, s.pos - st.first, toBuffer(s.p, 0, s.p.length), toBuffer(s.ext, 0, s.ext.length)] as const),
            })),
            forever: toBuffer(st.tiles.forever, 0, st.tiles.forever.length),
          },
        }),
  };
}

/** Rebuilds a key's state; absolute positions restart at 0 (cursors are rebuilt on first read). */
export function decodeKeyState(e: EncodedKeyState, layout: Layout): KeyState {
  if (e.v !== 2 && e.v !== 3) throw new Error(`stored state for key ${e.key} has format ${String(e.v)}; this version reads formats 2 and 3`);
  const refs = e.refs ?? [];
  if (e.vals.length !== layout.fields.length || refs.length !== layout.valueFields.length) {
    throw new Error(
      `stored state for key ${e.key} has ${e.vals.length} numeric and ${refs.length} value fields, the table has ${layout.fields.length} and ${layout.valueFields.length}`,
    );
  }
  const cap = Math.max(8, e.n * 2);
  const st = new KeyState(e.key, e.keyValues, e.group, layout, cap);
  st.ts = toFloats(e.ts, cap);
  st.vals = e.vals.map((b) => toFloats(b, cap));
  st.psum = e.psum.map((b, f) => (layout.prefixed[f] === true ? toFloats(b, cap + 1) : new Float64Array(0)));
  st.pcomp = e.pcomp.map((b, f) => (layout.prefixed[f] === true ? toFloats(b, cap + 1) : new Float64Array(0)));
  st.pnn = e.pnn.map((b, f) => (layout.prefixed[f] === true ? toFloats(b, cap + 1) : new Float64Array(0)));
  st.refs = refs.map((a) => a.slice());
  st.latest = e.latest ?? (e.n > 0 ? (st.ts[e.n - 1] as number) : Number.NaN);
  if (st.tiles !== undefined && e.tiles !== undefined) {
    st.originPos = e.tiles.origin;
    for (const h of e.tiles.hops) {
      if (!st.tiles.byHop.has(h.hop)) continue;
      st.tiles.byHop.set(
        h.hop,
        h.snaps.map(([k, pos, p, ext]) => ({ k, pos, p: toFloats(p, p.byteLength / 8), ext: toFloats(ext, ext.byteLength / 8) })),
      );
      if (h.last !== null) st.tiles.lastTile.set(h.hop, h.last);
    }
    st.tiles.forever = toFloats(e.tiles.forever, e.tiles.forever.byteLength / 8);
  }
  st.end = e.n;
  st.emitPos = e.n;
  return st;
}
