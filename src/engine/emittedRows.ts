import type { FeatureColumn } from "./windowReaders.js";

/**
 * Rows of a feature table's history, column by column: for each (key, event
 * time) the features as of that time. Numeric features come as Float64Arrays
 * with NaN for null; features whose values are not numbers (first, lastK,
 * topK, ...) as plain arrays.
 */
export interface EmittedRows {
  readonly length: number;
  readonly keys: ReadonlyArray<readonly unknown[]>;
  readonly ts: Float64Array;
  readonly values: readonly FeatureColumn[];
}

export type EmitSink = (rows: EmittedRows) => void;

/**
 * Emitted rows whose per-row key values are filled in when `keys` is first
 * read: a sink that reads only the features (a checksum, a model's feature
 * columns) never pays for an array of one entry per row. `keys` is an own
 * enumerable property (a getter) and nothing else is, so spreading,
 * `structuredClone` or `postMessage` see a plain `{ length, ts, values, keys }`.
 */
export function lazyKeyRows(
  length: number,
  ts: Float64Array,
  values: readonly FeatureColumn[],
  fill: (keys: Array<readonly unknown[]>) => void,
): EmittedRows {
  let filled: ReadonlyArray<readonly unknown[]> | undefined;
  const rows = { length, ts, values } as { length: number; ts: Float64Array; values: readonly FeatureColumn[]; keys: ReadonlyArray<readonly unknown[]> };
  Object.defineProperty(rows, "keys", {
    enumerable: true,
    get(): ReadonlyArray<readonly unknown[]> {
      if (filled === undefined) {
        const keys = new Array<readonly unknown[]>(length);
        fill(keys);
        filled = keys;
      }
      return filled;
    },
  });
  return rows;
}
