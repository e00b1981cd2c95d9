import { decodePartial, encodePartial, type EncodedPartial } from "./algebras/partialState.js";
import { KeyState } from "./keyState.js";
import type { Layout } from "./layout.js";
import type { TileSnapshots } from "./tiles.js";

/**
 * A key's state as plain data (Buffers and numbers) so that stores, which
 * never import the engine, can persist it. Only retained events are written.
 *
 * Format 3 grew two optional parts, so states written before them decode
 * unchanged: `decays` (absent: recomputed from the retained events) and the
 * window readers' tile states (`parts` of a snapshot, `foreverParts`;
 * absent: the table had none, or the key was not tiled then).
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
  /** Format 3, decayedSum: per Layout.decays entry its slots (sum, compensation, mass, epoch), retained events and the total. */
  readonly decays?: ReadonlyArray<readonly [Buffer, Buffer, Buffer, Buffer]>;
  /** Format 3, tiled layouts: the first event's position and the tile snapshots, positions relative to the first kept event. */
  readonly tiles?: {
    readonly origin: number;
    /** Snapshots [k, pos, prefix sums, extremes, the readers' tile states (TileSnapshots.readersOf)]. */
    readonly hops: ReadonlyArray<{
      readonly hop: number;
      readonly last: number | null;
      readonly snaps: ReadonlyArray<readonly [number, number, Buffer, Buffer] | readonly [number, number, Buffer, Buffer, readonly EncodedPartial[]]>;
    }>;
    /** The min/max of every dropped event, per min/max feature. */
    readonly forever: Buffer;
    /** The forever windows' readers' states over every dropped event. */
    readonly foreverParts?: readonly EncodedPartial[];
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
    ...(st.decays.length === 0 ? {} : { decays: st.decays.map((d) => [toBuffer(d.s, from, to + 1), toBuffer(d.c, from, to + 1), toBuffer(d.a, from, to + 1), toBuffer(d.e, from, to + 1)] as const) }),
    ...(st.tiles === undefined ? {} : { tiles: encodeTiles(st, st.tiles) }),
  };
}

function encodeTiles(st: KeyState, tiles: TileSnapshots): NonNullable<EncodedKeyState["tiles"]> {
  const parts = (readers: readonly number[], states: readonly unknown[]): EncodedPartial[] =>
    readers.map((r, j) => encodePartial((st.layout.readers[r] as (typeof st.layout.readers)[number]).kind, states[j]));
  return {
    origin: st.originPos - st.first,
    hops: tiles.hops.map((hop) => {
      const readers = tiles.readersOf.get(hop) ?? [];
      return {
        hop,
        last: tiles.lastTile.get(hop) ?? null,
        snaps: (tiles.byHop.get(hop) ?? []).map((s) => [s.k, s.pos - st.first, toBuffer(s.p, 0, s.p.length), toBuffer(s.ext, 0, s.ext.length), parts(readers, s.parts)] as const),
      };
    }),
    forever: toBuffer(tiles.forever, 0, tiles.forever.length),
    foreverParts: parts(tiles.readersOf.get(0) ?? [], tiles.foreverParts),
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
  if (e.decays !== undefined && e.decays.length === st.decays.length) {
    e.decays.forEach(([s, c, a, ep], i) => {
      const d = st.decays[i] as (typeof st.decays)[number];
      d.s = toFloats(s, cap + 1);
      d.c = toFloats(c, cap + 1);
      d.a = toFloats(a, cap + 1);
      d.e = toFloats(ep, cap + 1);
    });
  } else {
    // Written before decayed prefixes were kept: rebuilt from the retained events
    // (the events evicted before them weigh nothing in any window still read).
    for (const d of st.decays) for (let j = 0; j < e.n; j++) d.step(j, st.ts[j] as number, (st.vals[d.field] as Float64Array)[j] as number);
  }
  if (st.tiles !== undefined && e.tiles !== undefined) decodeTiles(e.key, e.tiles, st, st.tiles);
  st.end = e.n;
  st.emitPos = e.n;
  return st;
}

function decodeTiles(key: string, e: NonNullable<EncodedKeyState["tiles"]>, st: KeyState, tiles: TileSnapshots): void {
  const parts = (readers: readonly number[], encoded: readonly EncodedPartial[] | undefined): unknown[] => {
    if (readers.length === 0) return [];
    if (encoded === undefined || encoded.length !== readers.length) {
      throw new Error(`stored tiles of key ${key} hold ${encoded?.length ?? 0} reader states, the table keeps ${readers.length}: the stored state is of another definition`);
    }
    return encoded.map(decodePartial);
  };
  st.originPos = e.origin;
  tiles.droppedAny = e.origin < 0;
  for (const h of e.hops) {
    if (!tiles.byHop.has(h.hop)) continue;
    const readers = tiles.readersOf.get(h.hop) ?? [];
    tiles.byHop.set(
      h.hop,
      h.snaps.map(([k, pos, p, ext, ps]) => ({ k, pos, p: toFloats(p, p.byteLength / 8), ext: toFloats(ext, ext.byteLength / 8), parts: parts(readers, ps) })),
    );
    if (h.last !== null) tiles.lastTile.set(h.hop, h.last);
  }
  tiles.forever = toFloats(e.forever, e.forever.byteLength / 8);
  if (tiles.droppedAny) tiles.foreverParts = parts(tiles.readersOf.get(0) ?? [], e.foreverParts);
}
