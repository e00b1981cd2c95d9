import { describe, expect, it } from "vitest";
import { t } from "../src/core/schema.js";
import { count, first, last, sum } from "../src/dsl/aggregations.js";
import { dataset } from "../src/dsl/dataset.js";
import { FeatureStore } from "../src/featureStore/featureStore.js";
import type { ReplayBatch } from "../src/featureStore/recordedStream.js";
import { mulberry32 } from "../src/sources/generator/generatorSource.js";

const T0 = Date.UTC(2026, 4, 1);
const SEC = 1000;
const clicks = dataset("clicks", { user: t.string(), value: t.float(), ts: t.timestamp() }, { timestamp: "ts", lateness: "30s" });
const orders = dataset("orders", { user: t.string(), amount: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
const perUser = clicks.groupBy("user").aggregate({ n_5m: count({ window: "5m" }), total_5m: sum("value", { window: "5m" }) }).as("per_user");

/** A store that received `n` clicks in arrival order (disordered within the lateness) and a few orders. */
async function recorded(n: number): Promise<FeatureStore> {
  const store = await FeatureStore.open({ clock: "event" });
  await store.apply([clicks, orders, perUser]);
  const rand = mulberry32(7);
  const rows = Array.from({ length: n }, (_, i) => ({ user: `u${Math.floor(rand() * 5)}`, value: Math.round(rand() * 100), ts: T0 + i * SEC - Math.floor(rand() * 20) * SEC }));
  for (let i = 0; i < rows.length; i += 37) await store.push("clicks", rows.slice(i, i + 37));
  await store.push("orders", [{ user: "u1", amount: 5, ts: T0 + 10 * SEC }, { user: "u2", amount: 7, ts: T0 + 10 * SEC }]);
  return store;
}

describe("replay of recorded events", () => {
  it("into a fresh store with the same definitions: the same table values (a backtest sees what the live store saw)", async () => {
    const live = await recorded(600);
    const backtest = await FeatureStore.open({ clock: "event" });
    await backtest.apply([clicks, orders, perUser]);
    const report = await live.replay({ sources: ["clicks", "orders"], into: backtest });
    expect(report.events).toBe(602);
    expect(report.first).toEqual(new Date(Math.min(...(await collect(live, ["clicks"])).flatMap((b) => [...b.ts]))));
    const users = ["u0", "u1", "u2", "u3", "u4"].map((user) => ({ user }));
    const at = (backtest.now("per_user") as Date).getTime();
    expect(at).toBe((live.now("per_user") as Date).getTime());
    expect(await backtest.getOnline(perUser, users)).toEqual(await live.getOnline(perUser, users));
    expect(backtest.stats().datasets.clicks?.accepted).toBe(600);
    expect(backtest.stats().datasets.clicks?.late).toBe(0);
    await live.close();
    await backtest.close();
  });

  it("into a callback: event-time order across sources, the range [start, end), one dataset per batch", async () => {
    const live = await recorded(200);
    const batches = await collect(live, ["clicks", "orders"], { start: T0 + 5 * SEC, end: T0 + 60 * SEC, batchSize: 16 });
    const times = batches.flatMap((b) => [...b.ts]);
    expect(times.length).toBeGreaterThan(40);
    expect(times.every((x, i) => i === 0 || x >= (times[i - 1] as number))).toBe(true);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(T0 + 5 * SEC);
    expect(Math.max(...times)).toBeLessThan(T0 + 60 * SEC);
    expect(batches.every((b) => b.rows.length <= 16 && b.rows.every((r, i) => r.ts === b.ts[i]))).toBe(true);
    // The two orders at T0 + 10 s arrive after every click at or before that time and before any later one.
    const orderBatch = batches.findIndex((b) => b.dataset === "orders");
    expect(batches[orderBatch]?.rows.map((r) => r.user)).toEqual(["u1", "u2"]);
    expect(batches.slice(0, orderBatch).every((b) => b.dataset === "clicks" && [...b.ts].every((x) => x <= T0 + 10 * SEC))).toBe(true);
    expect(batches.slice(orderBatch + 1).every((b) => [...b.ts].every((x) => x > T0 + 10 * SEC))).toBe(true);
    await live.close();
  });

  it("into a store with a union: events of both sources at the same time come in the order the live store processed them", async () => {
    const web = dataset("web", { user: t.string(), price: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
    const app = dataset("app", { user: t.string(), price: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
    const w = { window: "1h" } as const;
    const both = web.union(app).groupBy("user").aggregate({ head: first("price", w), tail: last("price", w), n: count(w) }).as("both");
    const live = await FeatureStore.open({ clock: "event" });
    await live.apply([web, app, both]);
    // app, web, app at one time: `sources` lists web first, yet the replay keeps app's first batch first.
    await live.push("app", [{ user: "u", price: 1, ts: T0 }]);
    await live.push("web", [{ user: "u", price: 2, ts: T0 }]);
    await live.push("app", [{ user: "u", price: 3, ts: T0 }]);
    const order = (await collect(live, ["web", "app"])).flatMap((b) => b.rows.map((r) => r.price));
    expect(order).toEqual([1, 2, 3]);
    const backtest = await FeatureStore.open({ clock: "event" });
    await backtest.apply([web, app, both]);
    await live.replay({ sources: ["web", "app"], into: backtest });
    expect(await backtest.getOnline(both, [{ user: "u" }])).toEqual([{ user: "u", head: 1, tail: 3, n: 3 }]);
    expect(await backtest.getOnline(both, [{ user: "u" }])).toEqual(await live.getOnline(both, [{ user: "u" }]));
    await live.close();
    await backtest.close();
  });

  it("paced: event-time gaps become waits divided by the speed", async () => {
    const live = await recorded(50);
    const waits: number[] = [];
    const report = await live.replay({ sources: ["clicks"], speed: 10, into: () => {}, sleep: async (ms) => void waits.push(ms) });
    const span = (report.last as Date).getTime() - (report.first as Date).getTime();
    expect(waits.reduce((a, b) => a + b, 0)).toBeCloseTo(span / 10, 6);
    expect(waits.every((w) => w > 0)).toBe(true);
    await expect(live.replay({ sources: ["clicks"], speed: 0, into: () => {} })).rejects.toMatchObject({ code: "INVALID_DEFINITION" });
    await expect(live.replay({ sources: ["nope"], into: () => {} })).rejects.toMatchObject({ code: "UNKNOWN_DATASET" });
    await live.close();
  });
});

async function collect(store: FeatureStore, sources: string[], o: { start?: number; end?: number; batchSize?: number } = {}): Promise<ReplayBatch[]> {
  const out: ReplayBatch[] = [];
  await store.replay({ sources, ...o, into: (b) => void out.push(b) });
  return out;
}
