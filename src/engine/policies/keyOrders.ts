import type { ScheduleKind } from "../../plan/nodes.js";
import { IndexedHeap } from "./indexedHeap.js";
import { stalenessOf, type KeyStatus } from "./keyStatus.js";
import { RoundRobin } from "./roundRobin.js";

/** The order in which keys with a pending update are computed. */
export interface KeyOrder {
  readonly size: number;
  add(k: KeyStatus): void;
  /** k's priority changed. */
  update(k: KeyStatus): void;
  pop(): KeyStatus | undefined;
}

/** Ties go to the key that has waited longest. */
const older = (a: KeyStatus, b: KeyStatus): boolean => a.oldestSeq < b.oldestSeq;

const byHigher =
  (score: (k: KeyStatus) => number) =>
  (a: KeyStatus, b: KeyStatus): boolean => {
    const x = score(a);
    const y = score(b);
    return x > y || (x === y && older(a, b));
  };

/**
 * The key-level schedules, each a priority over what the policy knows of a key:
 * - key-lifo: the key whose pending update arrived last;
 * - least-recently-updated: the key computed longest ago (never computed first);
 * - max-staleness: the key whose output is furthest behind its data, in event time;
 * - query-weighted: the key read most often since its last update;
 * - cumulative-error: the key with the largest error accumulated since its last update.
 */
const PRIORITIES: Record<Exclude<ScheduleKind, "fifo" | "lifo" | "round-robin">, (a: KeyStatus, b: KeyStatus) => boolean> = {
  "key-lifo": (a, b) => a.newestSeq > b.newestSeq,
  "least-recently-updated": (a, b) => a.computedAt < b.computedAt || (a.computedAt === b.computedAt && older(a, b)),
  "max-staleness": byHigher((k) => (Number.isFinite(k.servedT) ? stalenessOf(k) : Number.POSITIVE_INFINITY)),
  "query-weighted": byHigher((k) => k.readsSince),
  "cumulative-error": byHigher((k) => k.error),
};

export function keyOrderFor(schedule: Exclude<ScheduleKind, "fifo" | "lifo">): KeyOrder {
  if (schedule === "round-robin") return new RoundRobin();
  return new IndexedHeap<KeyStatus>(PRIORITIES[schedule]);
}
