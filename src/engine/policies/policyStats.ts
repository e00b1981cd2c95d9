import type { Row, ScheduleKind } from "../../plan/nodes.js";

/** One key's standing under its table's policy. */
export interface KeyPolicyStats {
  /** The key fields. */
  readonly key: Row;
  /** Its updates waiting in the queue. */
  readonly pending: number;
  /** Event-time ms of its data that its current output does not reflect (0: up to date). */
  readonly staleness: number;
  /** Inputs that arrived since the one behind its current output. */
  readonly behind: number;
  /** Reads in all, and since its last computed update. */
  readonly reads: number;
  readonly readsSinceUpdate: number;
  /** Error accumulated since its last computed update (cumulative-error; 0 otherwise). */
  readonly error: number;
}

/** What a policy table did with its updates (store.policyStats(table)). */
export interface PolicyStats {
  readonly schedule: ScheduleKind;
  readonly queue: {
    readonly length: number;
    readonly capacity: number;
    /** The longest the queue has been. */
    readonly highWater: number;
  };
  /** Inputs offered to the policy (online pushes only). */
  readonly offered: number;
  /** Updates the operator computed. */
  readonly computed: number;
  /** Refused by the shedding predicate. */
  readonly shed: number;
  /** Lost to a full queue. */
  readonly dropped: number;
  /** Replaced in the queue by a newer input of the same key. */
  readonly merged: number;
  /** Taken from the queue after a newer input of the key was computed: skipped, costing nothing. */
  readonly superseded: number;
  /** Operator calls that threw (the update is lost), and the last error's message. */
  readonly failed: number;
  readonly lastError: string | undefined;
  /** Over keys: mean and max staleness (event-time ms), and keys not up to date. */
  readonly staleness: { readonly mean: number; readonly max: number; readonly staleKeys: number };
  readonly keys: readonly KeyPolicyStats[];
}
