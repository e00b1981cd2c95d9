import type { Row, Schema } from "../../core/schema.js";

/** Accepted events of one source dataset, in processing order, with their event times. */
export interface HistoryBatch {
  readonly rows: readonly Row[];
  readonly ts: Float64Array;
  /**
   * Per row, the store-wide arrival number of the batch it came in (see
   * HistoryStore.append); 0 for rows recorded without one. Absent when no row
   * has one.
   */
  readonly arrivals?: Float64Array;
  /** By arrival number: the batches whose rows some union tables dropped as late (BatchArrival.lateFor). */
  readonly lateFor?: ReadonlyMap<number, Readonly<Record<string, number>>>;
}

/**
 * What the runtime records of a batch of a source that feeds a union or an
 * interval join, so that a replay aggregates what it aggregated, in the same
 * order: the batch's store-wide arrival number (increasing in processing
 * order across all datasets), and, when some union tables' watermarks were
 * ahead of this source's (it had been idle), those watermarks by table: the
 * table dropped the batch's rows before them.
 */
export interface BatchArrival {
  readonly arrival: number;
  readonly lateFor?: Readonly<Record<string, number>> | undefined;
}

/**
 * The offline history of source datasets: every accepted event, kept in the
 * order it was processed so that a replay reproduces online state exactly.
 */
export interface HistoryStore {
  /**
   * Appends accepted events of a dataset with this schema, as one batch.
   * `merge`, given for sources feeding a union or an interval join, is kept
   * with the batch and read back in HistoryBatch.arrivals and lateFor.
   */
  append(dataset: string, schema: Schema, rows: readonly Row[], ts: Float64Array, merge?: BatchArrival): void;
  /** All events of a dataset, in processing order. */
  scan(dataset: string, schema: Schema, timestampField: string): Promise<HistoryBatch>;
  /**
   * The same events as scan, a batch at a time (an appended batch, a Parquet
   * row group), as of the call: a reader that keeps only what it derives
   * lets each batch's rows go, where scan holds every row at once.
   */
  batches(dataset: string, schema: Schema, timestampField: string): AsyncIterable<HistoryBatch>;
  /** Changes whenever the dataset's history grows (for caches). */
  version(dataset: string): number;
  /** Makes appended events durable. */
  flush(schemas: ReadonlyMap<string, { schema: Schema; timestamp: string }>): Promise<void>;
  /**
   * How much durable history each dataset has (a store-specific count, such
   * as Parquet parts), saved with the state it goes with in one commit.
   */
  marks(): Promise<Record<string, number>>;
  /**
   * Drops durable history written after `mark` (by a flush whose state
   * commit never happened: a crash in between), so history and state agree.
   */
  discardAfter(dataset: string, mark: number): Promise<void>;
  close(): Promise<void>;
}

/** Concatenates batches of history into one. */
export function concatHistory(parts: readonly HistoryBatch[]): HistoryBatch {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  let n = 0;
  for (const p of parts) n += p.rows.length;
  const rows: Row[] = new Array<Row>(n);
  const ts = new Float64Array(n);
  // Parts without arrival numbers read as 0 (recorded before any was given).
  const arrivals = parts.some((p) => p.arrivals !== undefined) ? new Float64Array(n) : undefined;
  const lateFor = parts.some((p) => p.lateFor !== undefined) ? new Map(parts.flatMap((p) => [...(p.lateFor ?? [])])) : undefined;
  let o = 0;
  for (const p of parts) {
    for (let i = 0; i < p.rows.length; i++) rows[o + i] = p.rows[i] as Row;
    ts.set(p.ts, o);
    if (arrivals !== undefined && p.arrivals !== undefined) arrivals.set(p.arrivals, o);
    o += p.rows.length;
  }
  return { rows, ts, ...(arrivals === undefined ? {} : { arrivals }), ...(lateFor === undefined ? {} : { lateFor }) };
}
