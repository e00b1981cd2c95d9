/**
 * Quickstart: daily Seattle weather (vega-datasets seattle-weather.csv, 2012–2015)
 * as an event stream, with features per weather type. Run: npx tsx examples/quickstart.ts
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { avg, count, csvSource, dataset, FeatureStore, max, sum, t } from "freshet";

const weather = dataset(
  "weather",
  { date: t.timestamp(), precipitation: t.float(), temp_max: t.float(), temp_min: t.float(), wind: t.float(), weather: t.string() },
  { timestamp: "date" },
);

const byWeather = weather
  .assign("temp_range", t.float(), (w) => w.temp_max - w.temp_min)
  .groupBy("weather")
  .aggregate({
    days_30d: count({ window: "30d" }),
    rain_30d: sum("precipitation", { window: "30d" }),
    avg_range_30d: avg("temp_range", { window: "30d" }),
    max_wind_7d: max("wind", { window: "7d" }),
  })
  .as("weather_stats");

export async function main(): Promise<Array<Record<string, unknown>>> {
  const file = join(dirname(createRequire(import.meta.url).resolve("vega-datasets")), "..", "data", "seattle-weather.csv");
  const store = await FeatureStore.open({ clock: "event" });
  await store.apply([weather, byWeather]);
  const report = await store.materializeOffline({ weather: csvSource(file) });
  console.log("loaded", report);
  const kinds = ["rain", "sun", "drizzle", "snow", "fog"].map((k) => ({ weather: k }));
  console.table(await store.getOnline(byWeather, kinds));
  const past = await store.getHistorical(byWeather, [{ weather: "rain", ts: new Date("2013-11-30T00:00:00Z") }]);
  console.table(past);
  await store.close();
  return past;
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split("/").pop() ?? "")) await main();
