import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { weather, weatherCsv, weatherStats, weatherTotals } from "../examples/serving.js";
import { runTrainingSet } from "../src/cli/trainingSetCommand.js";
import { FeatureStore } from "../src/featureStore/featureStore.js";
import { csvSource } from "../src/sources/files/csvSource.js";
import { parquetSource } from "../src/sources/files/parquetSource.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "freshet-training-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readParquet(path: string): Promise<unknown[]> {
  const rows: unknown[] = [];
  for await (const b of parquetSource(path).batches()) rows.push(...b);
  return rows;
}

describe("freshet training-set", () => {
  it("examples/training-set.yaml gives the set store.trainingSet computes directly, and the CLI writes the same file", async () => {
    const out = join(dir, "set.parquet");
    const result = await runTrainingSet({ config: "examples/training-set.yaml", out });
    expect(result.rows).toBe(8);
    const direct = await FeatureStore.open({ clock: "event" });
    await direct.apply([weather, weatherStats, weatherTotals]);
    await direct.materializeOffline({ weather: csvSource(weatherCsv) });
    const expected = await direct.trainingSet({
      entities: csvSource("examples/training-entities.csv"),
      timestampField: "date",
      features: ["weather_stats:*", "weather_totals:days"],
      maxAge: { weather_stats: "30d" },
      labels: [{ feature: "weather_stats:rain_30d", lookahead: "7d", as: "rain_next_7d" }],
      statuses: true,
    });
    await direct.close();
    const written = await readParquet(out);
    expect(written).toEqual(expected);
    // Snow's last day was 2014-11-29: on 2015-02-01 its 30-day features are past the max age.
    const snow = expected.find((r) => r.weather === "snow");
    expect(snow).toMatchObject({ days_30d: null, days_30d__status: "OUTSIDE_MAX_AGE" });
    expect(expected.find((r) => r.weather === "rain" && r.date === Date.UTC(2015, 0, 15))?.days_30d__status).toBe("PRESENT");

    const cliOut = join(dir, "cli.csv");
    const cli = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "training-set", "--config", "examples/training-set.yaml", "--out", cliOut], { encoding: "utf8" });
    expect(cli.status).toBe(0);
    expect(cli.stderr).toMatch(/wrote 8 rows × \d+ columns/);
    const csvRows: unknown[] = [];
    for await (const b of csvSource(cliOut).batches()) csvRows.push(...b);
    expect(csvRows.map((r) => (r as Record<string, string>).rain_next_7d)).toEqual(expected.map((r) => (r.rain_next_7d === null ? "" : String(r.rain_next_7d))));
  });

  it("names the problem in a bad config: unknown table, unknown feature, bad duration, unknown key", async () => {
    const write = async (name: string, body: string): Promise<string> => {
      const p = join(dir, name);
      await writeFile(p, body);
      return p;
    };
    const base = `definitions: ${join(process.cwd(), "examples/serving.ts")}\nentities:\n  path: ${join(process.cwd(), "examples/training-entities.csv")}\n  timestamp: date\n`;
    const out = join(dir, "x.parquet");
    await expect(runTrainingSet({ config: await write("t1.yaml", `${base}features: [nope:days]\n`), out })).rejects.toThrow(/t1\.yaml: Unknown table "nope"/);
    await expect(runTrainingSet({ config: await write("t2.yaml", `${base}features: [weather_totals:dayz]\n`), out })).rejects.toThrow(/t2\.yaml: training set: table "weather_totals" has no feature "dayz"/);
    await expect(runTrainingSet({ config: await write("t3.yaml", `${base}features: [weather_totals:days]\nlabel: { feature: weather_totals:days, lookahead: soon }\n`), out })).rejects.toThrow(/t3\.yaml: label\.lookahead: not a duration/);
    await expect(runTrainingSet({ config: await write("t4.yaml", `${base}features: [weather_totals:days]\nfeaturez: []\n`), out })).rejects.toThrow(/t4\.yaml: .*featurez/);
    await expect(runTrainingSet({ config: await write("t5.yaml", `${base}features: [days]\n`), out })).rejects.toThrow(/t5\.yaml: features\.0: must be "table:feature"/);
  });
});
