import { messageOf } from "../../core/errorMessage.js";
import type { PolicyDef, Row } from "../../plan/nodes.js";
import { KeyQueue } from "./keyQueue.js";
import { behindOf, newKeyStatus, stalenessOf, type KeyStatus } from "./keyStatus.js";
import type { PendingQueue, PendingUpdate } from "./pendingUpdate.js";
import type { PolicyStats } from "./policyStats.js";
import { RecordQueue } from "./recordQueue.js";
import { shedPredicate, type ShedPredicate } from "./shedding.js";
import { TokenBucket } from "./tokenBucket.js";

/**
 * One table's policy at run time: the per-key bookkeeping, the shedding
 * predicate, the bounded queue in its schedule's order, the budget and the
 * counters. It decides; the operator table computes (see OperatorTableRuntime).
 * `now` is the store's clock: the budget and least-recently-updated read it.
 */
export class PolicyRuntime {
  readonly keys = new Map<string, KeyStatus>();
  private readonly queue: PendingQueue;
  private readonly keep: ShedPredicate;
  private readonly bucket: TokenBucket | undefined;
  private seq = 0;
  private highWater = 0;
  private readonly counts = { offered: 0, computed: 0, shed: 0, dropped: 0, merged: 0, superseded: 0, failed: 0 };
  private lastError: string | undefined;

  constructor(
    readonly def: PolicyDef,
    private readonly now: () => number,
  ) {
    this.queue = def.schedule === "fifo" || def.schedule === "lifo" ? new RecordQueue(def.schedule, def.queue) : new KeyQueue(def.schedule, def.queue);
    this.keep = shedPredicate(def.shed);
    const { perSecond, burst } = def.budget;
    this.bucket = perSecond === undefined ? undefined : new TokenBucket(perSecond, burst, now);
  }

  get queueLength(): number {
    return this.queue.size;
  }

  /**
   * An input of key `id` arrived (online): it is shed, queued, merged into
   * the key's pending update, or dropped for a full queue. `error` is
   * error(current output, input), `value` the input's value for "moved".
   */
  offer(id: string, input: unknown, t: number, error: number, value: number | undefined): void {
    const k = this.status(id, t);
    this.counts.offered++;
    if (t > k.newestT) k.newestT = t;
    k.offered++;
    // The key's output is wrong by this much whether or not this input is computed.
    k.error += error;
    if (!this.keep(k, value)) {
      this.counts.shed++;
      // Its staleness and error grew: a queued update of the key moves up.
      if (k.pending > 0) this.queue.touch(k);
      return;
    }
    if (value !== undefined) k.lastValue = value;
    const seq = this.seq++;
    const wasPending = k.pending;
    // Priorities read these, so they are set before the queue orders the key.
    k.newestSeq = seq;
    if (wasPending === 0) k.oldestSeq = seq;
    const outcome = this.queue.offer({ key: k, input, t, seq, ordinal: k.offered });
    if (outcome.kind === "merged") this.counts.merged++;
    else if (outcome.kind === "queued") k.pending++;
    else {
      this.counts.dropped++;
      const lost = outcome.dropped.key;
      if (lost !== k || outcome.dropped.seq !== seq) {
        // LIFO dropped an older update and queued this one.
        lost.pending--;
        k.pending++;
      } else if (wasPending === 0) {
        k.oldestSeq = -1;
      }
    }
    if (this.queue.size > this.highWater) this.highWater = this.queue.size;
  }

  /** Updates the budget allows now (Infinity without a rate). */
  allowance(): number {
    return this.bucket === undefined ? Number.POSITIVE_INFINITY : this.bucket.available();
  }

  /** The next update to compute, spending one unit of budget; undefined when the queue or the budget is empty. */
  take(): PendingUpdate | undefined {
    if (this.queue.size === 0 || this.allowance() < 1) return undefined;
    for (;;) {
      const u = this.queue.pop();
      if (u === undefined) return undefined;
      u.key.pending--;
      if (this.superseded(u)) continue;
      this.bucket?.spend();
      return u;
    }
  }

  /** A newer input of the key was computed already: computing this one could only move its output back. */
  superseded(u: PendingUpdate): boolean {
    if (u.seq >= u.key.servedSeq) return false;
    this.counts.superseded++;
    return true;
  }

  /** The operator computed `u`: the key is up to date as of it. */
  computed(u: PendingUpdate): void {
    this.counts.computed++;
    this.serve(u.key, u.t, u.seq, u.ordinal);
  }

  failed(error: unknown): void {
    this.counts.failed++;
    this.lastError = messageOf(error);
  }

  /**
   * An input computed outside the policy (a replay computes every input): the
   * key is up to date with it, and any older pending update is superseded.
   */
  computedExactly(id: string, t: number): void {
    const k = this.status(id, t);
    if (t > k.newestT) k.newestT = t;
    k.offered++;
    this.serve(k, t, this.seq++, k.offered);
  }

  /** The key's output now reflects the input at (t, seq), its `ordinal`-th. */
  private serve(k: KeyStatus, t: number, seq: number, ordinal: number): void {
    k.servedT = t;
    k.servedSeq = seq;
    k.servedOrdinal = ordinal;
    k.computedAt = this.now();
    k.readsSince = 0;
    k.error = 0;
  }

  /** A read of the key (online): query-weighted and the "queried" predicate count them. */
  read(id: string): void {
    const k = this.keys.get(id);
    if (k === undefined) return;
    k.reads++;
    k.readsSince++;
    if (k.pending > 0) this.queue.touch(k);
  }

  /** The queue has updates, whether or not the budget allows one now. */
  get hasPending(): boolean {
    return this.queue.size > 0;
  }

  stats(keyValues: (id: string) => Row): PolicyStats {
    const keys = [...this.keys.values()].map((k) => ({
      key: keyValues(k.id),
      pending: k.pending,
      staleness: stalenessOf(k),
      behind: behindOf(k),
      reads: k.reads,
      readsSinceUpdate: k.readsSince,
      error: k.error,
    }));
    const total = keys.reduce((a, k) => a + k.staleness, 0);
    return {
      schedule: this.def.schedule,
      queue: { length: this.queue.size, capacity: this.def.queue, highWater: this.highWater },
      ...this.counts,
      lastError: this.lastError,
      staleness: {
        mean: keys.length === 0 ? 0 : total / keys.length,
        max: keys.reduce((a, k) => Math.max(a, k.staleness), 0),
        staleKeys: keys.filter((k) => k.behind > 0).length,
      },
      keys,
    };
  }

  private status(id: string, t: number): KeyStatus {
    let k = this.keys.get(id);
    if (k === undefined) this.keys.set(id, (k = newKeyStatus(id, this.keys.size, t)));
    return k;
  }
}
