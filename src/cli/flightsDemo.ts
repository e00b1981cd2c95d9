import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { avg, count, dataset, max, min, sum, t } from "../index.js";

/** The demo's definitions: per-airport delay features over real 2001 US flights. */
export const flights = dataset(
  "flights",
  { origin: t.string(), destination: t.string(), delay: t.float(), distance: t.float(), date: t.timestamp() },
  { timestamp: "date" },
);

export const airportDelays = flights
  .filter((f) => f.distance > 0)
  .groupBy("origin")
  .aggregate({
    flights_1h: count({ window: "1h" }),
    delay_sum_1d: sum("delay", { window: "1d" }),
    delay_avg_7d: avg("delay", { window: "7d" }),
    delay_max_1d: max("delay", { window: "1d" }),
    delay_min_1d: min("delay", { window: "1d" }),
  })
  .as("airport_delays");

/** Path of flights-3m.parquet inside the vega-datasets npm package. */
export function flightsParquetPath(): string {
  const require = createRequire(import.meta.url);
  // The package exports only its JS entry; the data folder sits beside build/.
  return join(dirname(require.resolve("vega-datasets")), "..", "data", "flights-3m.parquet");
}
