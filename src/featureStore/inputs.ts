import type { Row } from "../core/schema.js";
import type { DeadLetterSink } from "../engine/deadLetters.js";
import { concatHistory } from "../stores/offline/historyStore.js";
import { FreshetError } from "../errors.js";
import type { SourceDef } from "../plan/nodes.js";
import { RowParser } from "../sources/rowParser.js";
import { DEFAULT_BATCH, isRowSource, rowsSource, type RowSource } from "../sources/rowSource.js";

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
 * and kept in the dead-letter sink. An array is parsed in place, `batchSize`
 * rows at a time (no copy of each batch).
 */
export async function* parseSource(
  def: SourceDef,
  input: RowInput,
  onError: OnError,
  deadLetters: DeadLetterSink,
  batchSize = DEFAULT_BATCH,
): AsyncGenerator<ParsedBatch> {
  if (Array.isArray(input)) {
    const parse = batchParser(def, false, undefined, onError, deadLetters);
    const items: readonly unknown[] = input;
    for (let from = 0; from < items.length; from += batchSize) {
      const end = Math.min(items.length, from + batchSize);
      yield { ...parse(items, from, end, 0), read: end };
    }
    return;
  }
  const source = toRowSource(input);
  const file = source.kind === "array" || source.kind === "iterable" ? undefined : source.description;
  const parse = batchParser(def, source.text, file, onError, deadLetters);
  let read = 0;
  for await (const items of source.batches()) {
    const batch = parse(items, 0, items.length, read);
    read += items.length;
    yield { ...batch, read };
  }
}

/**
 * Parses items[from..end) of one batch, keeping the invalid ones out as
 * onError says; items[i] is row `before + i + 1` of the source in messages.
 */
function batchParser(
  def: SourceDef,
  text: boolean,
  file: string | undefined,
  onError: OnError,
  deadLetters: DeadLetterSink,
): (items: readonly unknown[], from: number, end: number, before: number) => { rows: Row[]; ts: Float64Array } {
  const parser = new RowParser(def, { text });
  const tsField = def.timestamp;
  return (items, from, end, before) => {
    const rows = new Array<Row>(end - from);
    const ts = new Float64Array(end - from);
    let n = 0;
    let i = from;
    while (i < end) {
      // parseRun takes the rows up to the first one that does not parse; parseAt then says why.
      const stop = parser.parseRun(items, i, end, rows, ts, n);
      n += stop - i;
      i = stop;
      if (i === end) break;
      try {
        const row = parser.parseAt(items[i], before + i + 1, file);
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
    rows.length = n;
    return { rows, ts: ts.subarray(0, n) };
  };
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
