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
 * columns) never pays for an array of one entry per row.
 */
export class LazyKeyRows implements EmittedRows {
  private filled: ReadonlyArray<readonly unknown[]> | undefined;

  constructor(
    readonly length: number,
    readonly ts: Float64Array,
    readonly values: readonly FeatureColumn[],
    private readonly fill: (keys: Array<readonly unknown[]>) => void,
  ) {}

  get keys(): ReadonlyArray<readonly unknown[]> {
    if (this.filled === undefined) {
      const keys = new Array<readonly unknown[]>(this.length);
      this.fill(keys);
      this.filled = keys;
    }
    return this.filled;
  }
}
