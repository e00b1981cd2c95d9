import { describe, expect, it } from "vitest";
import { ManualClock } from "../../core/clock.js";
import type { PolicyDef, ScheduleKind } from "../../plan/nodes.js";
import { PolicyRuntime } from "./policyRuntime.js";

function policy(schedule: ScheduleKind, over: Partial<PolicyDef> = {}, clock = new ManualClock(0)): PolicyRuntime {
  const def: PolicyDef = { schedule, queue: 100, error: undefined, shed: { kind: "never" }, budget: { perSecond: undefined, burst: 1, concurrency: undefined }, ...over };
  return new PolicyRuntime(def, () => clock.now());
}

/** Takes every update the policy gives, marking each computed; returns "key:input" in order. */
function drain(p: PolicyRuntime): string[] {
  const out: string[] = [];
  for (let u = p.take(); u !== undefined; u = p.take()) {
    out.push(`${u.key.id}:${String(u.input)}`);
    p.computed(u);
  }
  return out;
}

const offer = (p: PolicyRuntime, id: string, input: number, error = 0): void => p.offer(id, input, input, error, undefined);

describe("schedules", () => {
  it("fifo computes in arrival order and refuses arrivals when full (tail drop)", () => {
    const p = policy("fifo", { queue: 3 });
    for (const [k, v] of [["a", 1], ["b", 2], ["a", 3], ["c", 4]] as const) offer(p, k, v);
    expect(p.queueLength).toBe(3);
    expect(drain(p)).toEqual(["a:1", "b:2", "a:3"]);
    const s = p.stats(() => ({}));
    expect([s.offered, s.computed, s.dropped, s.queue.highWater]).toEqual([4, 3, 1, 3]);
    // c's only input was dropped: its output reflects nothing of its data.
    expect(s.keys.find((k) => k.behind === 1)?.staleness).toBe(0);
  });

  it("lifo computes the newest first, drops the oldest when full, and skips inputs older than a computed one", () => {
    const p = policy("lifo", { queue: 3 });
    for (const [k, v] of [["a", 1], ["b", 2], ["a", 3], ["c", 4]] as const) offer(p, k, v);
    // a:1 was dropped for c:4; after a:3, nothing older of a is left.
    expect(drain(p)).toEqual(["c:4", "a:3", "b:2"]);
    const q = policy("lifo");
    for (const [k, v] of [["a", 1], ["a", 2], ["b", 3]] as const) offer(q, k, v);
    expect(drain(q)).toEqual(["b:3", "a:2"]);
    const s = q.stats(() => ({}));
    expect([s.computed, s.superseded, s.dropped]).toEqual([2, 1, 0]);
  });

  it("key-lifo keeps the newest input per key and computes the key updated last first", () => {
    const p = policy("key-lifo", { queue: 2 });
    for (const [k, v] of [["a", 1], ["b", 2], ["a", 3], ["c", 4]] as const) offer(p, k, v);
    expect(p.queueLength).toBe(2);
    expect(drain(p)).toEqual(["a:3", "b:2"]);
    const s = p.stats(() => ({}));
    expect([s.merged, s.dropped, s.computed]).toEqual([1, 1, 2]);
  });

  it("round-robin goes around the keys in first-seen order", () => {
    const p = policy("round-robin");
    for (const [k, v] of [["a", 1], ["b", 2], ["c", 3]] as const) offer(p, k, v);
    const first = p.take();
    expect(first?.key.id).toBe("a");
    if (first !== undefined) p.computed(first);
    offer(p, "a", 4); // a waits for b and c: the cursor is past it
    offer(p, "c", 5); // merged into c's pending update
    expect(drain(p)).toEqual(["b:2", "c:5", "a:4"]);
  });

  it("least-recently-updated picks the key computed longest ago, never-computed keys first", () => {
    const clock = new ManualClock(0);
    const p = policy("least-recently-updated", {}, clock);
    for (const k of ["a", "b", "c"]) {
      offer(p, k, 1);
      clock.advance(10);
      expect(drain(p)).toEqual([`${k}:1`]); // computed at 0, 10, 20
    }
    offer(p, "c", 2);
    offer(p, "d", 2);
    offer(p, "a", 2);
    offer(p, "b", 2);
    expect(drain(p)).toEqual(["d:2", "a:2", "b:2", "c:2"]);
  });

  it("max-staleness picks the key whose output is furthest behind its data (event time)", () => {
    const p = policy("max-staleness");
    p.offer("a", "a0", 0, 0, undefined);
    p.offer("b", "b0", 0, 0, undefined);
    drain(p);
    p.offer("a", "a1", 50, 0, undefined);
    p.offer("b", "b1", 30, 0, undefined);
    p.offer("c", "c1", 40, 0, undefined); // never computed: first
    p.offer("b", "b2", 80, 0, undefined); // b is now 80 behind, a 50
    expect(p.stats(() => ({})).staleness).toEqual({ mean: (50 + 80 + 0) / 3, max: 80, staleKeys: 3 });
    expect(drain(p)).toEqual(["c:c1", "b:b2", "a:a1"]);
    expect(p.stats(() => ({})).staleness.max).toBe(0);
  });

  it("query-weighted picks the key read most since its last update; reads reorder queued keys", () => {
    const p = policy("query-weighted");
    for (const k of ["a", "b", "c"]) offer(p, k, 1);
    p.read("b");
    p.read("c");
    p.read("c");
    p.read("zzz"); // unknown keys are not tracked
    const first = p.take();
    expect(first?.key.id).toBe("c");
    if (first !== undefined) p.computed(first);
    p.read("a");
    p.read("a");
    expect(drain(p)).toEqual(["a:1", "b:1"]);
    expect(p.stats(() => ({})).keys.map((k) => [k.reads, k.readsSinceUpdate])).toEqual([
      [2, 0],
      [1, 0],
      [2, 0],
    ]);
  });

  it("cumulative-error picks the key with the largest error accumulated since its update", () => {
    const p = policy("cumulative-error");
    offer(p, "a", 1, 5);
    offer(p, "b", 2, 3);
    offer(p, "b", 3, 4); // merged: b's error is 7
    offer(p, "c", 4, 6);
    expect(drain(p)).toEqual(["b:3", "c:4", "a:1"]);
    offer(p, "a", 5, 1);
    expect(p.stats(() => ({})).keys.map((k) => k.error)).toEqual([1, 0, 0]);
  });
});

describe("budget", () => {
  it("perSecond: computes what the store clock's elapsed time pays for, saving up at most burst", () => {
    const clock = new ManualClock(0);
    const p = policy("fifo", { budget: { perSecond: 2, burst: 3, concurrency: undefined } }, clock);
    for (let i = 0; i < 20; i++) offer(p, `k${i}`, i);
    expect(drain(p)).toHaveLength(3); // starts full
    clock.advance(1_000);
    expect(drain(p)).toHaveLength(2);
    clock.advance(250);
    expect(drain(p)).toHaveLength(0);
    clock.advance(250);
    expect(drain(p)).toHaveLength(1);
    clock.advance(60_000); // saved up to burst only
    expect(drain(p)).toHaveLength(3);
    expect(p.queueLength).toBe(20 - 9);
  });
});
