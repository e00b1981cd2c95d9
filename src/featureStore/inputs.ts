import type { Row } from "../core/schema.js";
import type { DeadLetterSink } from "../engine/deadLetters.js";
import { concatHistory } from "../stores/offline/historyStore.js";
import { FreshetError } from "../errors.js";
import type { SourceDef } from "../plan/nodes.js";
import { RowParser } from "../sources/rowParser.js";
import { isRowSource, rowsSource, type RowSource } from "../sources/rowSource.js";

/** What a user can hand in as rows: an array, an (async) iterable, or a source such as csvSource(path). */
export type RowInput = readonly unknown[] | Iterable<unknown> | AsyncIterable<unknown> | RowSource;

/** What to do with a row that does not fit the schema. */
export type OnError = "throw" | "dead-letter";

export function toRowSource(input: RowInput): RowSource {
  return isRowSource(input) ? input : rowsSource(input as Iterable<unknown> | AsyncIterable<unknown>);
}

export interface ParsedBatch {
  rows: Row[];
  ts: Float64Array;
  /** Rows read from the source so far, including invalid ones. */
  read: number;
}

/**
 * Parses a source's batches into typed rows with their event times. Invalid
 * rows throw (naming file, row and field) or, with "dead-letter", are counted
 * and kept in the dead-letter sink.
 */
export async function* parseSource(
  def: SourceDef,
  input: RowInput,
  onError: OnError,
  deadLetters: DeadLetterSink,
): AsyncGenerator<ParsedBatch> {
  const source = toRowSource(input);
  const parser = new RowParser(def, { text: source.text });
  const file = source.kind === "array" || source.kind === "iterable" ? undefined : source.description;
  const tsField = def.timestamp;
  let rowNumber = 0;
  for await (const raw of source.batches()) {
    const items = raw;
    const rows = new Array<Row>(items.length);
    const ts = new Float64Array(items.length);
    let n = 0;
    let i = 0;
    while (i < items.length) {
      // parseRun takes the rows up to the first one that does not parse; parseAt then says why.
      const stop = parser.parseRun(items, i, rows, ts, n);
      n += stop - i;
      i = stop;
      if (i === items.length) break;
      try {
        const row = parser.parseAt(items[i], rowNumber + i + 1, file);
        ts[n] = row[tsField] as number;
        rows[n++] = row;
      } catch (err) {
        if (onError === "throw" || !(err instanceof FreshetError)) throw err;
        deadLetters.add({
          dataset: def.name,
          reason: "invalid",
          row: items[i],
          eventTime: undefined,
          watermark: undefined,
          message: err.message,
        });
      }
      i++;
    }
    rowNumber += items.length;
    rows.length = n;
    yield { rows, ts: ts.subarray(0, n), read: rowNumber };
  }
}

/** Indices of events in event-time order; ties keep their input order. */
export function eventTimeOrder(ts: Float64Array): Uint32Array | undefined {
  let sorted = true;
  for (let i = 1; i < ts.length; i++) {
    if ((ts[i] as number) < (ts[i - 1] as number)) {
      sorted = false;
      break;
    }
  }
  if (sorted) return undefined;
  const idx = new Uint32Array(ts.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  return idx.sort((a, b) => (ts[a] as number) - (ts[b] as number) || a - b);
}

/** Concatenates parsed batches in event-time order (stable: ties keep input order). */
export function sortByEventTime(parts: ReadonlyArray<{ rows: readonly Row[]; ts: Float64Array }>): { rows: Row[]; ts: Float64Array } {
  const all = concatHistory(parts);
  const order = eventTimeOrder(all.ts);
  if (order === undefined) return { rows: all.rows.slice(), ts: all.ts };
  const rows = new Array<Row>(order.length);
  const ts = new Float64Array(order.length);
  for (let i = 0; i < order.length; i++) {
    const j = order[i] as number;
    rows[i] = all.rows[j] as Row;
    ts[i] = all.ts[j] as number;
  }
  return { rows, ts };
}

/**
 * What identifies an input across runs, for resuming a backfill: a source's
 * kind, description (its file) and size; an array's length. Iterables have
 * none that holds across runs.
 */
export function inputFingerprint(input: RowInput): string {
  if (Array.isArray(input)) return `array of ${input.length} rows`;
  if (isRowSource(input)) return `${input.kind} ${input.description}${input.size === undefined ? "" : ` (${input.size} rows)`}`;
  return "an iterable";
}
