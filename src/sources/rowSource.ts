import { DefinitionError } from "../errors.js";

/**
 * Something that yields raw input rows in batches: files, generators, arrays.
 * Rows are `unknown` here; a RowParser turns them into typed rows of a dataset.
 */
export interface RowSource {
  /** What it is, for messages and progress: "csv", "jsonl", "parquet", "generator", "array", "iterable". */
  readonly kind: string;
  /** A file path or a short description; named in error messages. */
  readonly description: string;
  /** True when values arrive as text (CSV): numbers and booleans are parsed from strings, "" is null. */
  readonly text: boolean;
  /** Total rows when known up front (for progress bars). */
  readonly size?: number;
  /** Raw rows in batches, in source order. The `row` number of each row is its 1-based position in the source. */
  batches(): AsyncIterable<readonly unknown[]>;
}

export function isRowSource(value: unknown): value is RowSource {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { batches?: unknown }).batches === "function" &&
    typeof (value as { kind?: unknown }).kind === "string"
  );
}

/** Rows per batch when a source is not told otherwise. */
export const DEFAULT_BATCH = 65_536;

/** A source's batchSize option: a positive whole number, or the default. */
export function batchSizeOption(source: string, n: number | undefined): number {
  if (n === undefined) return DEFAULT_BATCH;
  if (!Number.isSafeInteger(n) || n < 1) throw new DefinitionError(`${source}: batchSize must be a positive integer, got ${n}`);
  return n;
}

/** Wraps an array, iterable or async iterable of rows as a RowSource. */
export function rowsSource(rows: Iterable<unknown> | AsyncIterable<unknown>, batchSize = DEFAULT_BATCH): RowSource {
  if (Array.isArray(rows)) {
    const arr: readonly unknown[] = rows;
    return {
      kind: "array",
      description: `array of ${arr.length} rows`,
      text: false,
      size: arr.length,
      async *batches() {
        for (let i = 0; i < arr.length; i += batchSize) yield arr.slice(i, i + batchSize);
      },
    };
  }
  return {
    kind: "iterable",
    description: "iterable of rows",
    text: false,
    async *batches() {
      let batch: unknown[] = [];
      for await (const r of rows as AsyncIterable<unknown>) {
        batch.push(r);
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    },
  };
}
