/**
 * Processing policies end to end, through the store: an overloaded operator
 * table keeps serving fresh values with a bounded queue under a key-aware
 * policy while a FIFO table falls behind; replays and point-in-time reads
 * stay exact; reads reach the scheduler; background budgets and failures.
 */
import { describe, expect, it } from "vitest";
import { dataset, FeatureStore, t } from "freshet";
import { ManualClock } from "../src/core/clock.js";

const T0 = Date.UTC(2026, 0, 1);
const ticks = dataset("ticks", { sym: t.string(), price: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
type Tick = { sym: string; price: number; ts: number };
/** The "expensive" operator: the mean price of a key's last 4 ticks, and the time of the newest. */
const meanOf = (w: Tick[]): { mean: number; last_ts: number } => ({ mean: w.reduce((a, r) => a + r.price, 0) / w.length, last_ts: w[w.length - 1]?.ts ?? 0 });
const windowed = () => ticks.groupBy("sym").window({ size: 4, slide: 1 }).apply(meanOf, { output: { mean: t.float(), last_ts: t.timestamp() } });
const KEYS = Array.from({ length: 20 }, (_, i) => `s${i}`);

/** One second of ticks: 10 per key, at T0 + second·1000 + i·100; price = second (so a value tells its age). */
function second(s: number): Tick[] {
  const rows: Tick[] = [];
  for (let i = 0; i < 10; i++) for (const sym of KEYS) rows.push({ sym, price: s, ts: T0 + s * 1000 + i * 100 });
  return rows;
}

describe("an overloaded operator table (200 inputs/s, budget 20 updates/s)", () => {
  it("key-lifo keeps serving fresh values with a queue of at most one update per key; fifo falls behind", async () => {
    const clock = new ManualClock(T0);
    const budget = { perSecond: 20 };
    const fifo = windowed().policy({ schedule: "fifo", queue: 100_000, budget }).as("fifo_mean");
    const fresh = windowed().policy({ schedule: "key-lifo", queue: 1_000, budget }).as("fresh_mean");
    const store = await FeatureStore.open({ clock });
    await store.apply([ticks, fifo, fresh]);
    const highWater: number[] = [];
    for (let s = 0; s < 60; s++) {
      clock.set(T0 + s * 1000 + 999);
      await store.push("ticks", second(s));
      if (s % 20 === 19) highWater.push(store.policyStats("fresh_mean").queue.highWater);
    }
    const f = store.policyStats(fifo);
    const k = store.policyStats(fresh);
    // 12,000 records make 11,940 windows (each key's first 3 records fill its window).
    expect(f.offered).toBe(11_940);
    expect(k.offered).toBe(11_940);
    // Same budget: 20 to start (burst) + 20 per later second.
    expect(f.computed).toBe(20 + 59 * 20);
    expect(k.computed).toBe(20 + 59 * 20);
    // FIFO queues everything and works through it in arrival order: ~190 more per second.
    expect(f.queue.length).toBe(11_940 - f.computed);
    expect(f.dropped + f.merged + f.shed).toBe(0);
    // Key-aware LIFO holds one pending window per key: the queue never grows past the 20 keys.
    expect(k.queue.length).toBeLessThanOrEqual(20);
    expect(highWater).toEqual([20, 20, 20]);
    expect(k.merged).toBe(11_940 - k.computed - k.queue.length);
    // Staleness (event-time ms of data not reflected): FIFO ~ the whole run, key-lifo ~ one second.
    expect(f.staleness.max).toBeGreaterThan(50_000);
    expect(k.staleness.max).toBeLessThanOrEqual(1_000);
    // Served values: FIFO still serves second 5's prices, key-lifo the last second's.
    const rows = await store.getOnline(fifo, [{ sym: "s3" }]);
    const freshRows = await store.getOnline(fresh, [{ sym: "s3" }]);
    expect(rows[0]?.mean).toBeLessThanOrEqual(6);
    expect(freshRows[0]?.mean).toBeGreaterThanOrEqual(58);
    // The policy's per-key view names the key.
    expect(k.keys.find((x) => x.key.sym === "s3")?.pending).toBeLessThanOrEqual(1);
    await store.close();
  });

  it("a bounded FIFO queue drops the newest inputs once full and serves ever older data", async () => {
    const clock = new ManualClock(T0);
    const fifo = windowed().policy({ schedule: "fifo", queue: 500, budget: { perSecond: 20 } }).as("fifo_mean");
    const store = await FeatureStore.open({ clock });
    await store.apply([ticks, fifo]);
    for (let s = 0; s < 30; s++) {
      clock.set(T0 + s * 1000 + 999);
      await store.push("ticks", second(s));
      expect(store.policyStats(fifo).queue.length).toBeLessThanOrEqual(500);
    }
    const st = store.policyStats(fifo);
    expect(st.queue.highWater).toBe(500);
    expect(st.dropped).toBe(st.offered - st.computed - st.queue.length);
    expect(st.dropped).toBeGreaterThan(4_000);
    // What it computes now was queued seconds ago: its data is old.
    expect(st.staleness.mean).toBeGreaterThan(20_000);
    await store.close();
  });
});

describe("offline stays exact", () => {
  it("getHistorical of a policy table computes every recorded input: equal to the same table without a policy", async () => {
    const clock = new ManualClock(T0);
    const policed = windowed().policy({ schedule: "key-lifo", shed: { sample: 0.3 }, budget: { perSecond: 5 } }).as("policed");
    const exact = windowed().as("exact");
    const store = await FeatureStore.open({ clock });
    await store.apply([ticks, policed, exact]);
    for (let s = 0; s < 10; s++) {
      clock.set(T0 + s * 1000 + 999);
      await store.push("ticks", second(s));
    }
    const entities = KEYS.flatMap((sym) => [2, 5, 9].map((s) => ({ sym, ts: T0 + s * 1000 + 450 })));
    const online = await store.getOnline(policed, [{ sym: "s0" }]);
    const exactOnline = await store.getOnline(exact, [{ sym: "s0" }]);
    // Online the policy served something else than every input computed would ...
    expect(store.policyStats(policed).shed).toBeGreaterThan(0);
    expect(online).not.toEqual(exactOnline);
    // ... but point-in-time reads replay the recorded inputs exactly.
    const strip = (rows: Array<Record<string, unknown>>) => rows.map(({ sym, ts, mean, last_ts }) => ({ sym, ts, mean, last_ts }));
    const h = strip(await store.getHistorical(policed, entities));
    expect(h).toEqual(strip(await store.getHistorical(exact, entities)));
    expect(h.find((r) => r.sym === "s7" && r.ts === T0 + 5450)).toEqual({ sym: "s7", ts: T0 + 5450, mean: 5, last_ts: T0 + 5400 });
    // A training set (point in time) reads the same exact values.
    const set = await store.trainingSet({ entities, features: [{ feature: "policed:mean", as: "mean" }, { feature: "policed:last_ts", as: "last_ts" }] });
    expect(strip(set)).toEqual(h);
    await store.close();
  });

  it("materializeOffline computes every input of a policy table (the policy only sees online pushes)", async () => {
    const policed = windowed().policy({ schedule: "fifo", budget: { perSecond: 0.001, burst: 1 } }).as("policed");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([ticks, policed]);
    await store.materializeOffline({ ticks: Array.from({ length: 10 }, (_, s) => second(s)).flat() });
    const st = store.policyStats(policed);
    expect([st.offered, st.computed, st.queue.length, st.staleness.max]).toEqual([0, 0, 0, 0]);
    // Every window was computed: the latest mean of a key is its last 4 ticks' (second 9).
    expect((await store.getOnline(policed, KEYS.map((sym) => ({ sym })))).map((r) => r.mean)).toEqual(KEYS.map(() => 9));
    await store.close();
  });
});

describe("reads, background budgets and failures", () => {
  it("online reads reach the scheduler: query-weighted computes the keys read most first", async () => {
    const clock = new ManualClock(T0);
    const qw = ticks
      .groupBy("sym")
      .apply((r) => ({ price: r.price }), { output: { price: t.float() } })
      .policy({ schedule: "query-weighted", budget: { perSecond: 1, burst: 1 } })
      .as("qw");
    const store = await FeatureStore.open({ clock });
    await store.apply([ticks, qw]);
    await store.push("ticks", [{ sym: "a", price: 1, ts: T0 }]); // spends the one token
    await store.push("ticks", ["a", "b", "c"].map((sym) => ({ sym, price: 2, ts: T0 + 1 })));
    await store.getOnline(qw, [{ sym: "c" }, { sym: "c" }, { sym: "b" }]);
    expect(store.policyStats(qw).keys.map((k) => [k.key.sym, k.reads])).toEqual([
      ["a", 0],
      ["b", 1],
      ["c", 2],
    ]);
    clock.advance(1_000);
    await store.push("ticks", [{ sym: "d", price: 3, ts: T0 + 2 }]);
    expect(await store.getOnline(qw, ["a", "b", "c", "d"].map((sym) => ({ sym })))).toEqual([
      { sym: "a", price: 1 },
      { sym: "b", price: null },
      { sym: "c", price: 2 },
      { sym: "d", price: null },
    ]);
    await store.close();
  });

  it("a concurrency budget computes in the background, at most N operator calls at once", async () => {
    const gates: Array<() => void> = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const slow = ticks
      .groupBy("sym")
      .apply(
        async (r) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise<void>((resolve) => gates.push(resolve));
          inFlight--;
          return { price: r.price };
        },
        { output: { price: t.float() } },
      )
      .policy({ schedule: "key-lifo", budget: { concurrency: 2 } })
      .as("slow");
    const store = await FeatureStore.open({ clock: new ManualClock(T0) });
    await store.apply([ticks, slow]);
    await store.push("ticks", ["a", "b", "c", "d"].map((sym, i) => ({ sym, price: i, ts: T0 + i })));
    // The push returned with two calls running and two updates queued.
    expect([inFlight, store.policyStats(slow).queue.length, store.policyStats(slow).computed]).toEqual([2, 2, 0]);
    for (let round = 0; round < 20 && store.policyStats(slow).computed < 4; round++) {
      for (const open of gates.splice(0)) open();
      await new Promise((r) => setImmediate(r));
    }
    expect(store.policyStats(slow).computed).toBe(4);
    expect(maxInFlight).toBe(2);
    expect((await store.bulkQuery(slow)).map((r) => r.price)).toEqual([0, 1, 2, 3]);
    // close() waits for the background workers: two more updates, then close while they run.
    await store.push("ticks", ["a", "b"].map((sym, i) => ({ sym, price: 10 + i, ts: T0 + 10 + i })));
    expect(inFlight).toBe(2);
    let closed = false;
    const closing = store.close().then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    for (const open of gates.splice(0)) open();
    await closing;
    expect([inFlight, store.policyStats(slow).computed]).toEqual([0, 6]);
  });

  it("an operator that throws on a queued update loses that update, counted, and the push stands", async () => {
    const flaky = ticks
      .groupBy("sym")
      .apply(
        (r) => {
          if (r.price < 0) throw new Error(`negative price for ${r.sym}`);
          return { price: r.price };
        },
        { output: { price: t.float() } },
      )
      .policy({ schedule: "fifo" })
      .as("flaky");
    const store = await FeatureStore.open({ clock: new ManualClock(T0) });
    await store.apply([ticks, flaky]);
    const report = await store.push("ticks", [
      { sym: "a", price: 1, ts: T0 },
      { sym: "b", price: -1, ts: T0 },
    ]);
    expect(report.accepted).toBe(2);
    const st = store.policyStats(flaky);
    expect([st.computed, st.failed, st.lastError]).toEqual([1, 1, "negative price for b"]);
    expect(() => store.policyStats("nope")).toThrow(/nope/);
    await store.close();
  });
});
