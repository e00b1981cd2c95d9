import type { EmittedRows } from "../engine/aggregateOperator.js";
import type { Runtime, TableRuntime } from "../engine/runtime.js";
import type { TableHistoryStore } from "../stores/offline/tableHistoryStore.js";
import { sourcesOf } from "./historical.js";
import { describeTable } from "./catalog.js";

/**
 * What a table's history was built from: each source's accepted count and
 * max event time (both durable with the state), so a stored history is used
 * only while no event has been added since.
 */
export function historyMarker(runtime: Runtime, t: TableRuntime): string {
  return sourcesOf(t)
    .map((d) => {
      const s = runtime.sources.get(d.name);
      return `${d.name}:${s?.accepted ?? 0}:${s?.maxTs ?? "-"}`;
    })
    .join(",");
}

/**
 * Writes the histories of the tables a backfill replays into the offline
 * store as the rows are emitted. A table whose stored history is current (or
 * whose sources had no events before) is appended to; any other is rebuilt
 * whole after the replay by `rebuild`.
 */
export class TableHistoryWriter {
  private queue: Promise<void> = Promise.resolve();
  private readonly streaming = new Set<string>();
  private readonly stale: TableRuntime[] = [];

  private constructor(
    private readonly store: TableHistoryStore,
    private readonly runtime: Runtime,
  ) {}

  static async start(store: TableHistoryStore, runtime: Runtime, tables: readonly TableRuntime[]): Promise<TableHistoryWriter> {
    const w = new TableHistoryWriter(store, runtime);
    for (const t of tables) {
      // A table whose columns the store cannot hold (a feature named "ts") is left out; getOffline says why.
      if (!storable(runtime, t)) continue;
      const fresh = sourcesOf(t).every((d) => (runtime.sources.get(d.name)?.accepted ?? 0) === 0);
      if (fresh) {
        const info = describeTable(runtime, new Map(), t.def.name);
        if (info === undefined) continue;
        await store.begin(t.def.name, { keys: info.keys, features: info.features });
        w.streaming.add(t.def.name);
      } else if ((await store.marker(t.def.name)) === historyMarker(runtime, t)) {
        w.streaming.add(t.def.name);
      } else {
        w.stale.push(t);
      }
    }
    return w;
  }

  /** The emit sink: rows of streaming tables are appended in order. */
  readonly sink = (table: string, rows: EmittedRows): void => {
    if (!this.streaming.has(table) || rows.length === 0) return;
    this.queue = this.queue.then(() => this.store.append(table, rows));
  };

  /** Waits for the appends, commits the streamed tables, and rebuilds the stale ones with `rebuild`. */
  async finish(rebuild: (t: TableRuntime, sink: (rows: EmittedRows) => void) => Promise<void>): Promise<void> {
    await this.queue;
    for (const name of this.streaming) {
      const t = this.runtime.tables.get(name);
      if (t !== undefined) await this.store.commit(name, historyMarker(this.runtime, t));
    }
    for (const t of this.stale) await writeWhole(this.store, this.runtime, t, rebuild);
  }
}

/** Writes a table's whole history (begin, the rows `rebuild` emits, commit). */
export async function writeWhole(store: TableHistoryStore, runtime: Runtime, t: TableRuntime, rebuild: (t: TableRuntime, sink: (rows: EmittedRows) => void) => Promise<void>): Promise<void> {
  const info = describeTable(runtime, new Map(), t.def.name);
  if (info === undefined) return;
  await store.begin(t.def.name, { keys: info.keys, features: info.features });
  let queue: Promise<void> = Promise.resolve();
  await rebuild(t, (rows) => {
    if (rows.length > 0) queue = queue.then(() => store.append(t.def.name, rows));
  });
  await queue;
  await store.commit(t.def.name, historyMarker(runtime, t));
}

function storable(runtime: Runtime, t: TableRuntime): boolean {
  const info = describeTable(runtime, new Map(), t.def.name);
  return info !== undefined && ![...info.keys, ...info.features].some((c) => c.name === "ts" || c.name === "__proto__");
}
