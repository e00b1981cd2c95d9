import { describe, expect, it } from "vitest";
import { t } from "../core/schema.js";
import { count, max, sum } from "../dsl/aggregations.js";
import { dataset } from "../dsl/dataset.js";
import { FeatureStore } from "../featureStore/featureStore.js";
import { statelessChain } from "../plan/nodes.js";
import { compileSteps } from "./statelessOps.js";

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
    const step = compileSteps(statelessChain(ds.node));
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
});
