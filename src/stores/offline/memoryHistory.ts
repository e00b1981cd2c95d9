import type { Row, Schema } from "../../core/schema.js";
import { ColumnLog } from "./columnLog.js";
import type { BatchArrival, HistoryBatch, HistoryStore } from "./historyStore.js";

/** History kept in memory, column by column: the embedded default without a data directory. */
export class MemoryHistory implements HistoryStore {
  private readonly logs = new Map<string, ColumnLog>();
  private readonly versions = new Map<string, number>();

  append(dataset: string, schema: Schema, rows: readonly Row[], ts: Float64Array, merge?: BatchArrival): void {
    let log = this.logs.get(dataset);
    if (log === undefined) this.logs.set(dataset, (log = new ColumnLog(schema)));
    log.append(rows, ts, merge);
    this.versions.set(dataset, this.version(dataset) + 1);
  }

  /** Rows rebuilt from the columns; callers cache what they derive from them (by version). */
  async scan(dataset: string): Promise<HistoryBatch> {
    return this.logs.get(dataset)?.toBatch() ?? { rows: [], ts: new Float64Array(0) };
  }

  batches(dataset: string): AsyncIterable<HistoryBatch> {
    const batches = this.logs.get(dataset)?.batches();
    return (async function* () {
      if (batches !== undefined) yield* batches;
    })();
  }

  version(dataset: string): number {
    return this.versions.get(dataset) ?? 0;
  }

  async flush(): Promise<void> {}
  /** Nothing is durable in memory. */
  async marks(): Promise<Record<string, number>> {
    return {};
  }
  async discardAfter(): Promise<void> {}
  async close(): Promise<void> {}
}
