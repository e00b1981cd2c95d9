import type { Row } from "../../core/schema.js";
import { concatHistory, type HistoryBatch, type HistoryStore } from "./historyStore.js";

/** History kept in memory: the embedded default without a data directory. */
export class MemoryHistory implements HistoryStore {
  private readonly parts = new Map<string, HistoryBatch[]>();
  private readonly versions = new Map<string, number>();

  append(dataset: string, rows: readonly Row[], ts: Float64Array): void {
    let p = this.parts.get(dataset);
    if (p === undefined) this.parts.set(dataset, (p = []));
    p.push({ rows: rows.slice(), ts: ts.slice() });
    this.versions.set(dataset, (this.versions.get(dataset) ?? 0) + 1);
  }

  async scan(dataset: string): Promise<HistoryBatch> {
    const parts = this.parts.get(dataset) ?? [];
    const all = concatHistory(parts);
    // Keep one part so repeated scans do not copy again.
    if (parts.length > 1) this.parts.set(dataset, [all]);
    return all;
  }

  version(dataset: string): number {
    return this.versions.get(dataset) ?? 0;
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
