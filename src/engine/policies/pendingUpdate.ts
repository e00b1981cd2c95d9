import type { KeyStatus } from "./keyStatus.js";

/** One input of a key waiting for the operator: a record, or a count window of records. */
export interface PendingUpdate {
  readonly key: KeyStatus;
  /** The operator's input. */
  input: unknown;
  /** Event time of the record that produced it (its output's event time). */
  t: number;
  /** Offer order, over the whole table. */
  seq: number;
  /** The key's input count once this one arrived (how many inputs its output reflects). */
  ordinal: number;
}

/** What became of an offered update. */
export type OfferOutcome =
  | { readonly kind: "queued" }
  /** It replaced the key's pending update (one per key). */
  | { readonly kind: "merged" }
  /** The queue was full: `dropped` (the offered update or an older one) left it. */
  | { readonly kind: "dropped"; readonly dropped: PendingUpdate };

/** The pending updates of a table, in the order its schedule computes them. */
export interface PendingQueue {
  readonly size: number;
  offer(u: PendingUpdate): OfferOutcome;
  /** Removes and returns the update to compute next. */
  pop(): PendingUpdate | undefined;
  /** The key's priority changed (a read, more error); a no-op for orders that ignore it. */
  touch(key: KeyStatus): void;
}
