/**
 * A definitions module for `freshet serve`: daily Seattle weather
 * (vega-datasets seattle-weather.csv, 2012–2015) as an event stream, with two
 * tables keyed by the weather type. At its first start the server replays the
 * CSV into the `weather` dataset (the `serve` export's `materialize`); with a
 * data directory the replayed state is kept, so later starts skip the replay.
 *
 * Run:
 *   npx freshet serve examples/serving.ts --port 8080
 *   npx freshet serve examples/serving.ts --port 8080 --dir ./freshet-data   # keep state across restarts
 * Then:
 *   curl localhost:8080/v1/online/weather_stats/rain
 *   curl -X POST localhost:8080/get-online-features -H 'content-type: application/json' \
 *     -d '{"features": ["weather_totals:days", "weather_totals:rain_total"], "entities": {"weather": ["rain", "sun"]}}'
 *   open http://localhost:8080/docs
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { avg, count, csvSource, dataset, defineServe, forever, max, sum, t } from "freshet";

/** Where vega-datasets keeps its files (the package's main file is in its dist/ folder). */
export const weatherCsv = join(dirname(createRequire(import.meta.url).resolve("vega-datasets")), "..", "data", "seattle-weather.csv");

export const weather = dataset(
  "weather",
  { date: t.timestamp(), precipitation: t.float(), temp_max: t.float(), temp_min: t.float(), wind: t.float(), weather: t.string() },
  { timestamp: "date" },
);

/** The recent weather of each kind: sliding windows over the last month and week. */
export const weatherStats = weather
  .assign("temp_range", t.float(), (w) => w.temp_max - w.temp_min)
  .groupBy("weather")
  .aggregate({
    days_30d: count({ window: "30d" }),
    rain_30d: sum("precipitation", { window: "30d" }),
    avg_range_30d: avg("temp_range", { window: "30d" }),
    max_wind_7d: max("wind", { window: "7d" }),
  })
  .as("weather_stats", { description: "weather of each kind over the last 30 (and 7) days", owner: "examples", ttl: "30d" });

/** Totals of each kind since the first day. */
export const weatherTotals = weather
  .groupBy("weather")
  .aggregate({
    days: count({ window: forever() }),
    rain_total: sum("precipitation", { window: forever() }),
    hottest: max("temp_max", { window: forever() }),
  })
  .as("weather_totals", { description: "days, rain and the hottest day of each kind since 2012", owner: "examples", ttl: "3650d" });

/**
 * Stores and start-up replay. Reads follow the data's own time (clock
 * "event": each table's watermark), so the 30-day windows describe the last
 * month of the data, not the month before today. Without --dir the online
 * store and registry are in memory; with it, LMDB and a registry file there.
 */
export const serve = defineServe({
  clock: "event",
  // Source tags (Volga's source_tags): offline, the weather dataset reads the
  // CSV; online, it takes rows pushed over HTTP (POST /v1/push/weather).
  sources: { offline: { weather: csvSource(weatherCsv) } },
  materialize: "offline",
});
