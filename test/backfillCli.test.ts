import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { weather, weatherCsv, weatherStats, weatherTotals } from "../examples/serving.js";
import { runBackfill } from "../src/cli/backfill.js";
import { FeatureStore } from "../src/featureStore/featureStore.js";
import { csvSource } from "../src/sources/files/csvSource.js";

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("freshet backfill", () => {
  it("replays the offline tag into the data directory; a second run skips it; the directory then reads like a direct replay", async () => {
    dir = await mkdtemp(join(tmpdir(), "freshet-backfill-"));
    const lines: string[] = [];
    const first = await runBackfill({ module: "examples/serving.ts", dir, tag: "offline", log: (l) => lines.push(l) });
    expect(first.reports.weather).toEqual({ read: 1461, accepted: 1461, late: 0, invalid: 0 });
    expect(lines.join("\n")).toMatch(/weather: 1,461 accepted, 0 late, 0 invalid/);
    const again = await runBackfill({ module: "examples/serving.ts", dir });
    expect(again.skipped).toEqual(["weather"]);

    const kinds = ["rain", "sun", "fog"].map((weather) => ({ weather }));
    const reopened = await FeatureStore.open({ dir, clock: "event" });
    await reopened.apply([weather, weatherStats, weatherTotals]);
    const direct = await FeatureStore.open({ clock: "event" });
    await direct.apply([weather, weatherStats, weatherTotals]);
    await direct.materializeOffline({ weather: csvSource(weatherCsv) });
    expect(await reopened.getOnline(weatherTotals, kinds)).toEqual(await direct.getOnline(weatherTotals, kinds));
    expect(await reopened.getHistorical(weatherStats, [{ weather: "rain", ts: Date.UTC(2014, 5, 1) }])).toEqual(await direct.getHistorical(weatherStats, [{ weather: "rain", ts: Date.UTC(2014, 5, 1) }]));
    await reopened.close();
    await direct.close();
  });

  it("an unknown tag exits 2 naming the tags there are", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "backfill", "examples/serving.ts", "--dir", join(tmpdir(), `freshet-nope-${process.pid}`), "--tag", "history"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('the source tag "history" is not in serve.sources, which has "offline"');
  });
});
