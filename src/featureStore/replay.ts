import type { Row, SourceDef } from "../plan/nodes.js";
import type { DeadLetterSink } from "../engine/deadLetters.js";
import type { Runtime, TableRowsSink } from "../engine/runtime.js";
import { toEpochMs } from "../core/time.js";
import { isRowSource } from "../sources/rowSource.js";
import { parseSource, sortByEventTime, type OnError, type RowInput } from "./inputs.js";

export interface ReplayOptions {
  readonly onError: OnError;
  readonly batchSize: number;
  readonly onProgress: ((p: { phase: "read" | "replay"; rows: number; total: number | undefined }) => void) | undefined;
  readonly emit: TableRowsSink | undefined;
}

/**
 * Feeds one dataset's history through the runtime in event-time order.
 * Input already in order (the usual case for logs and exported files) streams
 * batch by batch and is never held whole; anything else is parsed, sorted
 * (ties keep input order) and then replayed.
 */
export async function replayDataset(runtime: Runtime, deadLetters: DeadLetterSink, def: SourceDef, input: RowInput, o: ReplayOptions): Promise<number> {
  const size = isRowSource(input) ? input.size : Array.isArray(input) ? input.length : undefined;
  const ingest = (rows: Row[], ts: Float64Array): void => void runtime.ingest(def.name, rows, ts, o.emit);
  let read = 0;
  if (Array.isArray(input) && arrayInTimeOrder(input, def.timestamp)) {
    for await (const b of parseSource(def, input, o.onError, deadLetters)) {
      read = b.read;
      ingest(b.rows, b.ts);
      o.onProgress?.({ phase: "replay", rows: read, total: size });
    }
  } else {
    const parts: Array<{ rows: Row[]; ts: Float64Array }> = [];
    for await (const b of parseSource(def, input, o.onError, deadLetters)) {
      parts.push(b);
      read = b.read;
      o.onProgress?.({ phase: "read", rows: read, total: size });
    }
    const all = sortByEventTime(parts);
    parts.length = 0;
    for (let start = 0; start < all.rows.length; start += o.batchSize) {
      const end = Math.min(all.rows.length, start + o.batchSize);
      ingest(all.rows.slice(start, end), all.ts.subarray(start, end));
      o.onProgress?.({ phase: "replay", rows: end, total: all.rows.length });
    }
  }
  if (o.emit !== undefined) runtime.finish(def.name, o.emit);
  return read;
}

/** True when every row's timestamp is readable and non-decreasing (a cheap pre-scan of one field). */
function arrayInTimeOrder(rows: readonly unknown[], field: string): boolean {
  let last = Number.NEGATIVE_INFINITY;
  for (const r of rows) {
    if (typeof r !== "object" || r === null) return false;
    const v = (r as Record<string, unknown>)[field];
    const t = typeof v === "number" ? v : toEpochMs(v);
    if (t === undefined || t < last) return false;
    last = t;
  }
  return true;
}
