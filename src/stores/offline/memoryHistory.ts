import type { Row, Schema } from "../../core/schema.js";
import { ColumnLog } from "./columnLog.js";
import type { HistoryBatch, HistoryStore } from "./historyStore.js";

/** History kept in memory, column by column: the embedded default without a data directory. */
export class MemoryHistory implements HistoryStore {
  private readonly logs = new Map<string, ColumnLog>();
  private readonly versions = new Map<string, number>();
  private readonly cache = new Map<string, { version: number; batch: HistoryBatch }>();

  append(dataset: string, schema: Schema, rows: readonly Row[], ts: Float64Array): void {
    let log = this.logs.get(dataset);
    if (log === undefined) this.logs.set(dataset, (log = new ColumnLog(schema)));
    log.append(rows, ts);
    this.versions.set(dataset, this.version(dataset) + 1);
  }

  async scan(dataset: string): Promise<HistoryBatch> {
    const version = this.version(dataset);
    const cached = this.cache.get(dataset);
    if (cached !== undefined && cached.version === version) return cached.batch;
    const batch = this.logs.get(dataset)?.toBatch() ?? { rows: [], ts: new Float64Array(0) };
    this.cache.set(dataset, { version, batch });
    return batch;
  }

  version(dataset: string): number {
    return this.versions.get(dataset) ?? 0;
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
