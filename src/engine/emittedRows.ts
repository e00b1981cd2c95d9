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
 * columns) never pays for an array of one entry per row. `keys` is a getter
 * on the prototype, so a copy by spreading or `structuredClone` has no
 * `keys`: read it first ({ ...rows, keys: rows.keys }). A class with private
 * fields, not an object with its own getter: V8 keeps that one's properties
 * slow, and a sink's loop reading rows.length per row ran a third slower.
 */
class LazyKeyRows implements EmittedRows {
  readonly length: number;
  readonly ts: Float64Array;
  readonly values: readonly FeatureColumn[];
  #fill: ((keys: Array<readonly unknown[]>) => void) | undefined;
  #keys: ReadonlyArray<readonly unknown[]> | undefined;

  constructor(length: number, ts: Float64Array, values: readonly FeatureColumn[], fill: (keys: Array<readonly unknown[]>) => void) {
    this.length = length;
    this.ts = ts;
    this.values = values;
    this.#fill = fill;
  }

  get keys(): ReadonlyArray<readonly unknown[]> {
    if (this.#keys === undefined) {
      const keys = new Array<readonly unknown[]>(this.length);
      this.#fill?.(keys);
      this.#fill = undefined;
      this.#keys = keys;
    }
    return this.#keys;
  }
}

/** EmittedRows whose keys `fill` writes when they are first read (see LazyKeyRows). */
export function lazyKeyRows(length: number, ts: Float64Array, values: readonly FeatureColumn[], fill: (keys: Array<readonly unknown[]>) => void): EmittedRows {
  return new LazyKeyRows(length, ts, values, fill);
}
