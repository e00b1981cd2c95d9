import type { AggregateSpec } from "../aggregateOperator.js";
import type { EncodedKeyState } from "../stateCodec.js";

/**
 * Messages between a parallel replay (main thread) and its aggregate workers.
 * A worker hosts any number of partitions, each one table's share of the key
 * groups, named by `part`. Every request gets exactly one reply, in order.
 */

/** A key seen for the first time by a partition, with the state it already had (if any). */
export interface NewKey {
  /** The key's index in this partition (dense, assigned by the main thread). */
  readonly id: number;
  readonly key: string;
  readonly keyValues: readonly unknown[];
  readonly group: number;
  readonly state: EncodedKeyState | undefined;
  /** Retained events of `state` whose history rows were already emitted. */
  readonly emitted: number;
}

export type Request =
  | { readonly t: "open"; readonly part: number; readonly table: string; readonly spec: AggregateSpec; readonly horizon: number }
  | {
      readonly t: "batch";
      readonly part: number;
      readonly newKeys: readonly NewKey[];
      readonly ids: Int32Array;
      readonly ts: Float64Array;
      readonly cols: readonly Float64Array[];
      /** The source's watermark after this batch: rows below it are emitted, and it moves the eviction horizon. */
      readonly watermark: number;
      readonly emit: boolean;
    }
  /** End of the replay: emits every pending row (when `emit`), then returns all state and closes the partition. */
  | { readonly t: "close"; readonly part: number; readonly emit: boolean };

export interface KeyStateTransfer {
  readonly state: EncodedKeyState;
  readonly emitted: number;
}

export type Reply =
  | { readonly t: "rows"; readonly n: number; readonly ids: Int32Array; readonly ts: Float64Array; readonly values: readonly Float64Array[] }
  | { readonly t: "ok" }
  | { readonly t: "closed"; readonly rows: Extract<Reply, { t: "rows" }> | undefined; readonly states: readonly KeyStateTransfer[]; readonly horizon: number }
  | { readonly t: "error"; readonly message: string; readonly stack: string | undefined };
