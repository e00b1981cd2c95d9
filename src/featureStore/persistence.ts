import type { DeadLetterSink } from "../engine/deadLetters.js";
import type { Runtime, SourceRuntime, TableRuntime } from "../engine/runtime.js";
import { decodeKeyState, encodeKeyState, type EncodedKeyState } from "../engine/stateCodec.js";
import type { StateStore } from "../stores/online/stateStore.js";

/** Store-wide facts saved with the keyed state in one commit. */
interface StoreMeta {
  readonly v: 1;
  readonly sources: Record<string, { maxTs: number; accepted: number }>;
  readonly tables: Record<string, { horizon: number }>;
  readonly deadLetters: Record<string, { late: number; invalid: number }>;
  /** Durable history per dataset when this state was committed (HistoryStore.marks). */
  readonly history?: Record<string, number>;
  /** A backfill under way: how many rows of which input the state holds. */
  readonly backfill?: BackfillMark;
}

/**
 * Where an interrupted backfill stopped, per dataset: `rows` rows of `input`
 * (by its fingerprint) are in the committed state, all of them when `complete`.
 */
export type BackfillMark = Readonly<Record<string, { readonly input: string; readonly rows: number; readonly complete: boolean }>>;

/** What the last commit recorded of history marks and a backfill under way. */
export function savedProgress(store: StateStore): { history: Record<string, number> | undefined; backfill: BackfillMark | undefined } {
  const meta = store.meta();
  return isMeta(meta) ? { history: meta.history, backfill: meta.backfill } : { history: undefined, backfill: undefined };
}

function isMeta(value: unknown): value is StoreMeta {
  return typeof value === "object" && value !== null && (value as { v?: unknown }).v === 1;
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

/** Writes every changed key and the metadata in one atomic commit. */
export function persist(runtime: Runtime, store: StateStore, deadLetters: DeadLetterSink, progress: { history?: Record<string, number>; backfill?: BackfillMark } = {}): number {
  const entries: Array<{ table: string; group: number; key: string; value: unknown }> = [];
  // Joined tables are rebuilt from the history of both sides on restart: their state is not written.
  const changed = [...runtime.tables.values()].filter((t) => t.join === undefined).map((t) => ({ table: t, states: t.operator.takeDirty() }));
  for (const { table, states } of changed) {
    for (const st of states) {
      entries.push({ table: table.def.name, group: st.group, key: st.key, value: encodeKeyState(st) });
    }
  }
  const meta: StoreMeta = {
    v: 1,
    sources: Object.fromEntries([...runtime.sources].map(([n, s]) => [n, { maxTs: s.maxTs, accepted: s.accepted }])),
    tables: Object.fromEntries([...runtime.tables].map(([n, t]) => [n, { horizon: t.operator.horizon }])),
    deadLetters: Object.fromEntries(
      [...runtime.sources.keys()].map((n) => [n, { late: deadLetters.count(n, "late"), invalid: deadLetters.count(n, "invalid") }]),
    ),
    ...(progress.history === undefined ? {} : { history: progress.history }),
    ...(progress.backfill === undefined ? {} : { backfill: progress.backfill }),
  };
  try {
    store.commit(entries, meta);
  } catch (err) {
    // Nothing was written: the same keys are still to be persisted next time.
    for (const { table, states } of changed) table.operator.markDirty(states);
    throw err;
  }
  return entries.length;
}
