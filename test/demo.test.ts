/** The README's main command, on a slice of the real flights data, checked against a direct computation. */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { defaultDemoOptions, runDemo } from "../src/cli/demo.js";
import { parquetSource } from "../src/sources/files/parquetSource.js";

describe("freshet demo", () => {
  it("backfills, streams and prints features that match a brute-force pass over the same rows", async () => {
    let text = "";
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString();
        done();
      },
    });
    const limit = 150_000;
    const result = await runDemo({ ...defaultDemoOptions(out), limit, streamDays: 1, airports: 3 });
    expect(result.rows).toBe(limit);
    expect(result.consistent).toBe(true);
    expect(result.snapshots.length).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/backfill: [\d,]+ events in [\d.]+ s = [\d,]+ events\/s/);
    expect(text).toMatch(/online == point-in-time at .*: yes/);

    // Recompute the last snapshot's 1-day features directly from the same rows.
    const rows: Array<{ origin: string; delay: number; distance: number; t: number }> = [];
    for await (const batch of parquetSource(defaultDemoOptions().path).batches()) {
      for (const r of batch as Array<Record<string, unknown>>) {
        if (rows.length >= limit) break;
        rows.push({ origin: String(r["origin"]), delay: Number(r["delay"]), distance: Number(r["distance"]), t: (r["date"] as Date).getTime() });
      }
      if (rows.length >= limit) break;
    }
    const last = result.snapshots[result.snapshots.length - 1];
    const at = last?.at.getTime() ?? 0;
    for (const row of last?.rows ?? []) {
      const inDay = rows.filter((r) => r.origin === row["origin"] && r.distance > 0 && r.t > at - 86_400_000 && r.t <= at);
      const inHour = inDay.filter((r) => r.t > at - 3_600_000);
      expect(row["flights_1h"]).toBe(inHour.length);
      expect(row["delay_sum_1d"]).toBe(inDay.reduce((a, r) => a + r.delay, 0));
      expect(row["delay_max_1d"]).toBe(inDay.length === 0 ? null : Math.max(...inDay.map((r) => r.delay)));
      expect(row["delay_min_1d"]).toBe(inDay.length === 0 ? null : Math.min(...inDay.map((r) => r.delay)));
    }
    expect(last?.rows.length).toBe(3);
  });
});
