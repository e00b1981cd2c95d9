import { describe, expect, it } from "vitest";
import { t } from "../core/schema.js";
import { count, lastK, max, sum } from "../dsl/aggregations.js";
import { dataset } from "../dsl/dataset.js";
import { FeatureStore } from "../featureStore/featureStore.js";
import { stepChain } from "../plan/nodes.js";
import { compileSteps } from "./rowSteps.js";

const trips = dataset("trips", { city: t.string(), km: t.float(), minutes: t.float(), driver: t.string().optional(), at: t.timestamp() }, { timestamp: "at" });
const T = Date.UTC(2024, 0, 1);

describe("stateless steps", () => {
  it("filter, assign, select, drop and map run in order and keep event times", () => {
    const ds = trips
      .filter((r) => r.km > 1)
      .assign("speed", t.float(), (r) => (r.km / r.minutes) * 60)
      .drop("driver")
      .select("city", "speed", "at")
      .map((r) => ({ ...r, city: r.city.toUpperCase() }));
    const step = compileSteps(stepChain(ds.node));
    const out = step({
      rows: [
        { city: "oslo", km: 0.5, minutes: 2, driver: "a", at: T },
        { city: "oslo", km: 10, minutes: 20, driver: null, at: T + 5 },
        { city: "rome", km: 3, minutes: 6, driver: "b", at: T + 9 },
      ],
      ts: Float64Array.from([T, T + 5, T + 9]),
    });
    expect(out.rows).toEqual([
      { city: "OSLO", speed: 30, at: T + 5 },
      { city: "ROME", speed: 30, at: T + 9 },
    ]);
    expect(Array.from(out.ts)).toEqual([T + 5, T + 9]);
  });

  it("filter passes a batch that keeps every row on as it is, and copies from the first dropped row on", () => {
    const step = compileSteps(stepChain(trips.filter((r) => r.km > 1).node));
    const row = (km: number, i: number): { city: string; km: number; minutes: number; driver: null; at: number } => ({ city: "oslo", km, minutes: 1, driver: null, at: T + i });
    const batch = (kms: number[]): { rows: ReturnType<typeof row>[]; ts: Float64Array } => ({ rows: kms.map(row), ts: Float64Array.from(kms, (_, i) => T + i) });
    const all = batch([2, 3, 4]);
    expect(step(all)).toBe(all);
    for (const kms of [[0, 2, 3], [2, 0, 3, 0, 5], [2, 3, 0], [0, 0], []]) {
      const b = batch(kms);
      const out = step(b);
      const kept = kms.map((km, i) => [km, i] as const).filter(([km]) => km > 1);
      expect(out.rows).toEqual(kept.map(([, i]) => b.rows[i]));
      expect(Array.from(out.ts)).toEqual(kept.map(([, i]) => T + i));
    }
  });

  it("aggregates a computed column through the store", async () => {
    const fast = trips
      .assign("speed", t.float(), (r) => (r.km / r.minutes) * 60)
      .filter((r) => r.speed > 20)
      .groupBy("city")
      .aggregate({ fast_trips_1h: count({ window: "1h" }), top_speed_1h: max("speed", { window: "1h" }), km_1h: sum("speed", { window: "1h" }) })
      .as("fast_trips");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([trips, fast]);
    await store.push("trips", [
      { city: "oslo", km: 10, minutes: 20, at: T },
      { city: "oslo", km: 10, minutes: 60, at: T + 1000 },
      { city: "oslo", km: 40, minutes: 30, at: T + 2000 },
    ]);
    expect(await store.getOnline(fast, [{ city: "oslo" }])).toEqual([{ city: "oslo", fast_trips_1h: 2, top_speed_1h: 80, km_1h: 110 }]);
    expect(() => trips.select("nope" as "city")).toThrow(/select: unknown field "nope"/);
  });

  it("rename, dropNull and explode", () => {
    const ds = trips
      .rename({ city: "town", km: "distance" })
      .dropNull("driver")
      .map((r) => ({ town: r.town, tags: r.driver.split("+"), at: r.at }))
      .explode("tags");
    const run = compileSteps(stepChain(ds.node));
    const out = run({
      rows: [
        { city: "oslo", km: 1, minutes: 2, driver: "a+b", at: T },
        { city: "rome", km: 3, minutes: 6, driver: null, at: T + 1 },
        { city: "bonn", km: 3, minutes: 6, driver: "c", at: T + 2 },
      ],
      ts: Float64Array.from([T, T + 1, T + 2]),
    });
    expect(out.rows).toEqual([
      { town: "oslo", tags: "a", at: T },
      { town: "oslo", tags: "b", at: T },
      { town: "bonn", tags: "c", at: T + 2 },
    ]);
    expect(Array.from(out.ts)).toEqual([T, T, T + 2]);
    // All fields: a row with any null goes.
    const strict = compileSteps(stepChain(trips.dropNull().node));
    expect(strict({ rows: [{ city: "a", km: 1, minutes: 1, driver: null, at: T }, { city: "b", km: 1, minutes: 1, driver: "d", at: T }], ts: Float64Array.from([T, T]) }).rows).toHaveLength(1);
    expect(() => trips.rename({ city: "km" })).toThrow(/two fields would be named "km"/);
    expect(() => trips.rename({ city: "not a name" })).toThrow(/must be an identifier/);
    expect(() => trips.dropNull("nope" as "city")).toThrow(/dropNull: unknown field "nope"/);
  });

  it("dedup keeps the first of each run within the window, and a rolled-back batch leaves no trace", () => {
    const run = compileSteps(stepChain(trips.dedup({ by: ["city", "driver"], window: "10s" }).node));
    const batch = (rows: Array<[string, string, number]>) => ({
      rows: rows.map(([city, driver, at]) => ({ city, km: 1, minutes: 1, driver, at })),
      ts: Float64Array.from(rows.map((r) => r[2])),
    });
    const cities = (b: { rows: Array<Record<string, unknown>> }) => b.rows.map((r) => `${String(r["city"])}/${String(r["driver"])}@${Number(r["at"]) - T}`);
    expect(cities(run(batch([["oslo", "a", T], ["oslo", "a", T + 5000], ["oslo", "b", T + 6000], ["rome", "a", T + 7000]])))).toEqual(["oslo/a@0", "oslo/b@6000", "rome/a@7000"]);
    run.rollback();
    // Rolled back: the same rows are new again.
    expect(cities(run(batch([["oslo", "a", T + 1000]])))).toEqual(["oslo/a@1000"]);
    run.commit();
    expect(cities(run(batch([["oslo", "a", T + 10_999], ["oslo", "a", T + 11_000], ["oslo", "a", T + 12_000]])))).toEqual(["oslo/a@11000"]);
    run.commit();
    expect(() => trips.dedup({ by: ["nope" as "city"], window: "1s" })).toThrow(/dedup: unknown field "nope"/);
  });

  it("dedup and explode run the same online and in point-in-time reads", async () => {
    const orders = dataset("orders", { id: t.string(), user: t.string(), items: t.string(), at: t.timestamp() }, { timestamp: "at" });
    const perUser = orders
      .dedup({ by: ["id"], window: "1h" })
      .map((o) => ({ user: o.user, item: o.items.split(","), at: o.at }))
      .explode("item")
      .groupBy("user")
      .aggregate({ items_1d: count({ window: "1d" }), last_items: lastK("item", { window: "1d", k: 3 }) })
      .as("per_user");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([orders, perUser]);
    await store.push("orders", [
      { id: "o1", user: "u", items: "a,b", at: T },
      { id: "o1", user: "u", items: "a,b", at: T }, // redelivered
      { id: "o2", user: "u", items: "c", at: T + 60_000 },
    ]);
    await store.push("orders", [{ id: "o1", user: "u", items: "a,b", at: T + 120_000 }]); // again, later
    const online = await store.getOnline(perUser, [{ user: "u" }]);
    expect(online).toEqual([{ user: "u", items_1d: 3, last_items: ["c", "b", "a"] }]);
    expect(await store.getHistorical(perUser, [{ user: "u", ts: T + 120_000 }])).toEqual([{ ...online[0], ts: T + 120_000 }]);
    expect(store.explain(perUser)).toContain("dedup by [id] within 1h");
    await store.close();
  });
});

describe("latest and first per key", () => {
  it("keep each field's latest (or first) non-null value per key, typed", async () => {
    const { expectTypeOf } = await import("vitest");
    const rides = dataset("rides", { driver: t.string(), city: t.string(), km: t.float().optional(), at: t.timestamp() }, { timestamp: "at" });
    const latest = rides.groupBy("driver").latest().as("latest_ride");
    const firstRide = rides.groupBy("city").first().as("first_ride");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([rides, latest, firstRide]);
    await store.push("rides", [
      { driver: "a", city: "oslo", km: 1, at: T },
      { driver: "a", city: "rome", km: 5, at: T + 10 },
      { driver: "a", city: "bonn", km: null, at: T + 20 },
      { driver: "b", city: "oslo", km: 3, at: T + 30 },
    ]);
    const [a] = await store.getOnline(latest, [{ driver: "a" }]);
    expectTypeOf(a).toEqualTypeOf<({ driver: string } & { city: string | null; km: number | null; at: number | null }) | undefined>();
    // km's latest non-null value is 5: the null of the last ride does not replace it.
    expect(a).toEqual({ driver: "a", city: "bonn", km: 5, at: T + 20 });
    expect(await store.getOnline(firstRide, [{ city: "oslo" }])).toEqual([{ city: "oslo", driver: "a", km: 1, at: T }]);
    expect(await store.getHistorical(latest, [{ driver: "a", ts: T + 5 }])).toEqual([{ driver: "a", ts: T + 5, city: "oslo", km: 1, at: T }]);
    await store.close();
  });
});
