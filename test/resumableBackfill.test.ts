import { spawn } from "node:child_process";
import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { weather, weatherCsv, weatherStats, weatherTotals } from "../examples/serving.js";
import { t } from "../src/core/schema.js";
import { count } from "../src/dsl/aggregations.js";
import { dataset } from "../src/dsl/dataset.js";
import { FeatureStore } from "../src/featureStore/featureStore.js";
import { csvSource } from "../src/sources/files/csvSource.js";

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const kinds = ["rain", "sun", "fog", "drizzle", "snow"].map((w) => ({ weather: w }));
const times = [Date.UTC(2012, 5, 1), Date.UTC(2013, 11, 24), Date.UTC(2015, 11, 30)];

describe("resumable backfill", () => {
  it("a backfill killed mid-way resumes from its last checkpoint and ends like an uninterrupted one", async () => {
    dir = await mkdtemp(join(tmpdir(), "freshet-resume-"));
    const child = spawn(process.execPath, ["--import", "tsx", "test/helpers/backfillChild.ts", dir], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on("line", (l) => l === "stalled" && resolve());
      child.once("exit", (code) => reject(new Error(`child exited early with ${code}`)));
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;

    const resumed = await FeatureStore.open({ dir, clock: "event" });
    await resumed.apply([weather, weatherStats, weatherTotals]);
    // The last commit holds 600 rows (checkpoints every 200); rows 601-700 died with the process.
    expect(resumed.stats().datasets.weather?.accepted).toBe(600);
    const report = await resumed.materializeOffline({ weather: csvSource(weatherCsv) }, { batchSize: 100, checkpointEvery: 200 });
    expect(report.weather).toMatchObject({ accepted: 861, late: 0, invalid: 0 });

    const direct = await FeatureStore.open({ clock: "event" });
    await direct.apply([weather, weatherStats, weatherTotals]);
    await direct.materializeOffline({ weather: csvSource(weatherCsv) });
    expect(resumed.stats().datasets.weather).toEqual(direct.stats().datasets.weather);
    expect(await resumed.getOnline(weatherTotals, kinds)).toEqual(await direct.getOnline(weatherTotals, kinds));
    const entities = kinds.flatMap((k) => times.map((ts) => ({ ...k, ts })));
    expect(await resumed.getHistorical(weatherStats, entities)).toEqual(await direct.getHistorical(weatherStats, entities));
    await resumed.close();
    await direct.close();
  });

  it("history written after the last state commit is dropped at open, so history and state agree", async () => {
    dir = await mkdtemp(join(tmpdir(), "freshet-discard-"));
    const ev = dataset("ev", { k: t.string(), ts: t.timestamp() }, { timestamp: "ts" });
    const n = ev.groupBy("k").aggregate({ n: count({ window: "1d" }) }).as("n");
    const a = await FeatureStore.open({ dir, clock: "event" });
    await a.apply([ev, n]);
    await a.push("ev", [{ k: "x", ts: 1000 }, { k: "x", ts: 2000 }]);
    await a.close();
    // A part flushed by a run that crashed before its state commit.
    await copyFile(join(dir, "offline", "ev", "part-000001.parquet"), join(dir, "offline", "ev", "part-000002.parquet"));
    const b = await FeatureStore.open({ dir, clock: "event" });
    await b.apply([ev, n]);
    expect(await readdir(join(dir, "offline", "ev"))).toEqual(["part-000001.parquet"]);
    expect(await b.getHistorical(n, [{ k: "x", ts: 5000 }])).toEqual([{ k: "x", ts: 5000, n: 2 }]);
    await b.close();
  });
});
