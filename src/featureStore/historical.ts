import type { Row } from "../core/schema.js";
import { AggregateOperator } from "../engine/aggregateOperator.js";
import type { TableRuntime } from "../engine/runtime.js";
import type { HistoryBatch } from "../stores/offline/historyStore.js";
import { eventTimeOrder } from "./inputs.js";

const CHUNK = 65_536;

/**
 * Rebuilds a table's keyed state from the full history of its source, replayed
 * in event-time order through the table's own pipeline steps and aggregate
 * (a fresh one by default). Nothing is evicted, so the result can answer
 * as-of reads at any time.
 */
export function replayHistory(table: TableRuntime, history: HistoryBatch, op = new AggregateOperator(table.def.name, table.def.root)): AggregateOperator {
  const order = eventTimeOrder(history.ts);
  const n = history.rows.length;
  for (let start = 0; start < n; start += CHUNK) {
    const end = Math.min(n, start + CHUNK);
    let rows: Row[];
    let ts: Float64Array;
    if (order === undefined) {
      rows = history.rows.slice(start, end) as Row[];
      ts = history.ts.subarray(start, end);
    } else {
      rows = new Array<Row>(end - start);
      ts = new Float64Array(end - start);
      for (let i = start; i < end; i++) {
        const j = order[i] as number;
        rows[i - start] = history.rows[j] as Row;
        ts[i - start] = history.ts[j] as number;
      }
    }
    const b = table.steps({ rows, ts });
    op.process(b.rows, b.ts, 0, b.rows.length, false);
  }
  return op;
}
