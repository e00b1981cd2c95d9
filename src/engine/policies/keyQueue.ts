import type { ScheduleKind } from "../../plan/nodes.js";
import type { KeyStatus } from "./keyStatus.js";
import { keyOrderFor, type KeyOrder } from "./keyOrders.js";
import type { OfferOutcome, PendingQueue, PendingUpdate } from "./pendingUpdate.js";

/**
 * The key-aware schedules keep one pending update per key, the newest: a
 * newer input replaces the queued one (merged), since the operator's latest
 * input is what its output should reflect. The queue therefore holds at most
 * one update per key; when `capacity` keys wait, a new key's update is dropped.
 */
export class KeyQueue implements PendingQueue {
  private readonly pending = new Map<string, PendingUpdate>();
  private readonly order: KeyOrder;

  constructor(
    schedule: Exclude<ScheduleKind, "fifo" | "lifo">,
    private readonly capacity: number,
  ) {
    this.order = keyOrderFor(schedule);
  }

  get size(): number {
    return this.pending.size;
  }

  offer(u: PendingUpdate): OfferOutcome {
    const queued = this.pending.get(u.key.id);
    if (queued !== undefined) {
      queued.input = u.input;
      queued.t = u.t;
      queued.seq = u.seq;
      queued.ordinal = u.ordinal;
      this.order.update(u.key);
      return { kind: "merged" };
    }
    if (this.pending.size >= this.capacity) return { kind: "dropped", dropped: u };
    this.pending.set(u.key.id, u);
    this.order.add(u.key);
    return { kind: "queued" };
  }

  pop(): PendingUpdate | undefined {
    const k = this.order.pop();
    if (k === undefined) return undefined;
    const u = this.pending.get(k.id);
    this.pending.delete(k.id);
    return u;
  }

  touch(key: KeyStatus): void {
    if (this.pending.has(key.id)) this.order.update(key);
  }
}
