import { join } from "node:path";
import type { DeadLetterSink } from "../engine/deadLetters.js";
import type { Runtime, SourceRuntime, TableRuntime } from "../engine/runtime.js";
import { decodeKeyState, encodeKeyState, type EncodedKeyState } from "../engine/stateCodec.js";
import { DefinitionError } from "../errors.js";
import { CheckpointStateStore } from "../stores/online/checkpointStateStore.js";
import { LmdbStateStore } from "../stores/online/lmdbStateStore.js";
import { RedisCheckpointMedium, type RedisCheckpointOptions } from "../stores/online/redisCheckpointMedium.js";
import type { StateStore } from "../stores/online/stateStore.js";
import type { SourcePosition } from "../sources/stream/streamSource.js";

/** What a commit records besides keyed state and counters. */
export interface CommitProgress {
  /** Durable history per dataset when this state was committed (HistoryStore.marks). */
  readonly history?: Record<string, number>;
  /** A backfill under way: how many rows of which input the state holds. */
  readonly backfill?: BackfillMark;
  /** Where each live source of a job stands: every row before it is in this state. */
  readonly positions?: Record<string, SourcePosition>;
  /** Bytes of the dead-letter file that belong to this state (lines after them are from a crashed run). */
  readonly deadLetterBytes?: number;
  /** Commits so far, this one included (persist sets it): a checkpoint's epoch. */
  readonly epoch?: number;
}

/** Store-wide facts saved with the keyed state in one commit. */
interface StoreMeta extends CommitProgress {
  readonly v: 1;
  readonly sources: Record<string, { maxTs: number; accepted: number }>;
  readonly tables: Record<string, { horizon: number }>;
  readonly deadLetters: Record<string, { late: number; invalid: number }>;
  /** Runtime.arrivals (absent in stores written before it existed). */
  readonly arrivals?: number;
}

/**
 * Where an interrupted backfill stopped, per dataset: `rows` rows of `input`
 * (by its fingerprint) are in the committed state, all of them when `complete`.
 */
export type BackfillMark = Readonly<Record<string, { readonly input: string; readonly rows: number; readonly complete: boolean }>>;

/** What the last commit recorded of history marks, a backfill under way, source positions and the dead-letter file. */
export function savedProgress(store: StateStore): CommitProgress {
  const meta = store.meta();
  if (!isMeta(meta)) return {};
  const { v: _v, sources: _s, tables: _t, deadLetters: _d, arrivals: _a, ...progress } = meta;
  return progress;
}

function isMeta(value: unknown): value is StoreMeta {
  return typeof value === "object" && value !== null && (value as { v?: unknown }).v === 1;
}

/** The arrival numbers the last commit had handed out (Runtime.arrivals); 0 when none. */
export function savedArrivals(store: StateStore): number {
  const meta = store.meta();
  return isMeta(meta) ? (meta.arrivals ?? 0) : 0;
}

/**
 * Points newly applied tables at the state store and restores what the last
 * commit saved of newly applied sources and tables (watermarks, counters,
 * eviction horizons). Returns the tables the store has never seen.
 */
export function restore(
  added: { sources: readonly SourceRuntime[]; tables: readonly TableRuntime[] },
  store: StateStore,
  deadLetters: DeadLetterSink,
): TableRuntime[] {
  const meta = store.meta();
  const saved = isMeta(meta) ? meta : undefined;
  for (const table of added.tables) {
    if (table.join !== undefined) continue; // joined tables are rebuilt from the history of both sides
    const op = table.operator;
    op.loader = (key) => {
      const value = store.get(table.def.name, key);
      return value === undefined ? undefined : decodeKeyState(value as EncodedKeyState, op.layout);
    };
  }
  for (const src of added.sources) {
    const s = saved?.sources[src.def.name];
    if (s !== undefined) {
      src.maxTs = s.maxTs;
      src.accepted = s.accepted;
    }
    const d = saved?.deadLetters[src.def.name];
    if (d !== undefined) {
      deadLetters.restoreCount(src.def.name, "late", d.late);
      deadLetters.restoreCount(src.def.name, "invalid", d.invalid);
    }
  }
  const unseen: TableRuntime[] = [];
  for (const table of added.tables) {
    const t = table.join === undefined ? saved?.tables[table.def.name] : undefined;
    if (t !== undefined) table.operator.horizon = t.horizon;
    else unseen.push(table);
  }
  return unseen;
}

/** Writes every changed key and the metadata in one atomic commit; returns the commit's epoch. */
export async function persist(runtime: Runtime, store: StateStore, deadLetters: DeadLetterSink, progress: CommitProgress = {}): Promise<number> {
  const previous = store.meta();
  const epoch = (isMeta(previous) ? (previous.epoch ?? 0) : 0) + 1;
  const entries: Array<{ table: string; group: number; key: string; value: unknown }> = [];
  // Joined tables are rebuilt from the history of both sides on restart: their state is not written.
  const changed = [...runtime.tables.values()].filter((t) => t.join === undefined).map((t) => ({ table: t, states: t.operator.takeDirty() }));
  // A volatile store keeps no values: encoding every changed key for it would be thrown away.
  if (store.volatile !== true) {
    for (const { table, states } of changed) {
      for (const st of states) entries.push({ table: table.def.name, group: st.group, key: st.key, value: encodeKeyState(st) });
    }
  }
  const meta: StoreMeta = {
    v: 1,
    sources: Object.fromEntries([...runtime.sources].map(([n, s]) => [n, { maxTs: s.maxTs, accepted: s.accepted }])),
    tables: Object.fromEntries([...runtime.tables].map(([n, t]) => [n, { horizon: t.operator.horizon }])),
    deadLetters: Object.fromEntries(
      [...runtime.sources.keys()].map((n) => [n, { late: deadLetters.count(n, "late"), invalid: deadLetters.count(n, "invalid") }]),
    ),
    arrivals: runtime.arrivals,
    ...progress,
    epoch,
  };
  try {
    await store.commit(entries, meta);
  } catch (err) {
    // Nothing was written: the same keys are still to be persisted next time.
    for (const { table, states } of changed) table.operator.markDirty(states);
    throw err;
  }
  return epoch;
}

/**
 * The state store of a data directory: LMDB under dir/online, checkpoint
 * files under dir/checkpoints, or the checkpoint chain in Redis.
 */
export async function openStateStore(dir: string, state: "lmdb" | "checkpoints" | RedisCheckpointOptions): Promise<StateStore> {
  if (state === "lmdb") return LmdbStateStore.open(join(dir, "online"));
  if (state === "checkpoints") return CheckpointStateStore.open(join(dir, "checkpoints"));
  if (typeof state === "object" && state !== null && "redis" in state) return CheckpointStateStore.openOn(await RedisCheckpointMedium.connect(state));
  throw new DefinitionError(`FeatureStore.open: "state" must be "lmdb", "checkpoints" or { redis, prefix }, got ${JSON.stringify(state)}`, { field: "state" });
}
