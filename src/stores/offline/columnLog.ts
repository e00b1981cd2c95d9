import type { Row } from "../../core/schema.js";
import type { HistoryBatch } from "./historyStore.js";

/**
 * Appended rows kept column by column. Holding history as columns instead of
 * row objects lets the parsed rows die young (cheap for the GC), takes a
 * fraction of the memory, and is already the shape Parquet wants.
 */
export class ColumnLog {
  readonly columns: unknown[][];
  private ts = new Float64Array(1024);
  length = 0;

  constructor(readonly fields: readonly string[]) {
    this.columns = fields.map(() => []);
  }

  append(rows: readonly Row[], ts: Float64Array): void {
    const n = rows.length;
    for (let f = 0; f < this.fields.length; f++) {
      const name = this.fields[f] as string;
      const col = this.columns[f] as unknown[];
      for (let i = 0; i < n; i++) col.push((rows[i] as Row)[name] ?? null);
    }
    if (this.length + n > this.ts.length) {
      const next = new Float64Array(Math.max(this.ts.length * 2, this.length + n));
      next.set(this.ts.subarray(0, this.length));
      this.ts = next;
    }
    this.ts.set(ts, this.length);
    this.length += n;
  }

  times(): Float64Array {
    return this.ts.subarray(0, this.length);
  }

  /** Rows rebuilt from the columns (all with the same field order, so one hidden class). */
  toBatch(): HistoryBatch {
    const n = this.length;
    const rows = new Array<Row>(n);
    const nf = this.fields.length;
    for (let i = 0; i < n; i++) {
      const r: Row = {};
      for (let f = 0; f < nf; f++) r[this.fields[f] as string] = (this.columns[f] as unknown[])[i];
      rows[i] = r;
    }
    return { rows, ts: this.ts.slice(0, n) };
  }
}
