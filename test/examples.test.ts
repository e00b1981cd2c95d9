/** Runs the examples as users would, and checks their output against an independent computation. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { main as quickstart } from "../examples/quickstart.js";
import { fakeSource, main as ralfAverage } from "../examples/ralf-average.js";
import { generate as volgaData, main as volgaOrders } from "../examples/volga-orders.js";

describe("examples/quickstart.ts", () => {
  it("gives the point-in-time features a brute-force pass over the CSV gives", async () => {
    const past = await quickstart();
    const file = join(dirname(createRequire(import.meta.url).resolve("vega-datasets")), "..", "data", "seattle-weather.csv");
    const lines = readFileSync(file, "utf8").trim().split("\n").slice(1);
    const days = lines.map((l) => {
      const [date, precipitation, tmax, tmin, wind, weather] = l.split(",");
      return { t: Date.parse(`${date}T00:00:00Z`), p: Number(precipitation), range: Number(tmax) - Number(tmin), wind: Number(wind), weather };
    });
    const at = Date.parse("2013-11-30T00:00:00Z");
    const inWin = (d: (typeof days)[number], w: number) => d.weather === "rain" && d.t > at - w * 86_400_000 && d.t <= at;
    const w30 = days.filter((d) => inWin(d, 30));
    const w7 = days.filter((d) => inWin(d, 7));
    const row = past[0];
    expect(row?.["days_30d"]).toBe(w30.length);
    expect(row?.["rain_30d"]).toBeCloseTo(w30.reduce((a, d) => a + d.p, 0), 9);
    expect(row?.["avg_range_30d"]).toBeCloseTo(w30.reduce((a, d) => a + d.range, 0) / w30.length, 9);
    expect(row?.["max_wind_7d"]).toBe(Math.max(...w7.map((d) => d.wind)));
    expect(w30.length).toBeGreaterThan(5);
  });
});

describe("examples/ralf-average.ts", () => {
  it("answers point and bulk queries with the mean of each key's last 100 values at the last window that fired", async () => {
    const { bob, all } = await ralfAverage(1_000);
    const expected = new Map<string, number>();
    for (const key of ["sam", "bob", "sarah"]) {
      const values = [...fakeSource(["sam", "bob", "sarah"], 1_000)].filter((r) => r.key === key).map((r) => r.value);
      // Windows fire at 100, 150, 200, ... records: with 1,000 records the last one covers records 900..999.
      const last = values.slice(900, 1000);
      expected.set(key, last.reduce((a, b) => a + b, 0) / last.length);
    }
    expect(bob.key).toBe("bob");
    expect(bob.average).toBeCloseTo(expected.get("bob") as number, 12);
    expect(all.map((r) => r.key).sort()).toEqual(["bob", "sam", "sarah"]);
    for (const r of all) expect(r.average).toBeCloseTo(expected.get(r.key) as number, 12);
    // 100 uniform values average near 0.5, never near the extremes.
    expect(Math.abs((bob.average ?? 0) - 0.5)).toBeLessThan(0.15);
  });
});

describe("examples/volga-orders.ts", () => {
  it("gives the on-sale spend of registered buyers that a direct computation gives, offline and online", async () => {
    const { historical, online, liveFrom } = await volgaOrders();
    const { users, orders } = volgaData();
    // `known`: the orders the store has when it reads (the offline read comes before the live ones).
    const expected = (user: string, at: number, known: typeof orders) => {
      const reg = users.find((u) => u.user_id === user)?.registered_at ?? Number.POSITIVE_INFINITY;
      const mine = known.filter((o) => o.buyer_id === user && o.product_type === "ON_SALE" && o.purchased_at >= reg && o.purchased_at <= at);
      const inWin = (w: number) => mine.filter((o) => o.purchased_at > at - w);
      const mean = (xs: typeof mine) => (xs.length === 0 ? null : xs.reduce((a, o) => a + o.product_price, 0) / xs.length);
      return { avg7d: mean(inWin(7 * 86_400_000)), avg1h: mean(inWin(3_600_000)), n1w: inWin(7 * 86_400_000).length };
    };
    const last = Math.max(...orders.map((o) => o.purchased_at));
    const offline = orders.filter((o) => o.purchased_at < liveFrom);
    for (const [rows, at, known] of [[historical, liveFrom, offline], [online, last, orders]] as const) {
      for (const r of rows) {
        const e = expected(String(r["user_id"]), at, known);
        expect(r["num_purchases_1w"]).toBe(e.n1w);
        if (e.avg7d === null) expect(r["avg_spent_7d"]).toBeNull();
        else expect(r["avg_spent_7d"]).toBeCloseTo(e.avg7d, 9);
        if (e.avg1h === null) expect(r["avg_spent_1h"]).toBeNull();
        else expect(r["avg_spent_1h"]).toBeCloseTo(e.avg1h, 9);
      }
    }
    expect(online.some((r) => Number(r["num_purchases_1w"]) > 5)).toBe(true);
  });
});
