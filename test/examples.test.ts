/** Runs the examples as users would, and checks their output against an independent computation. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { main as quickstart } from "../examples/quickstart.js";
import { fakeSource, main as ralfAverage } from "../examples/ralf-average.js";

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
