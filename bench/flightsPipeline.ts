/**
 * The flights pipeline shared by the engine bench and the DuckDB oracle test:
 * per-origin sliding-window delay features over vega-datasets' flights-3m.
 */
// The same definitions the demo runs; the bench and the oracle test measure exactly those.
export { airportDelays, flights } from "../src/cli/flightsDemo.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * The features in declaration order (the order of EmittedRows.values), each
 * with its SQL aggregate function, input column (none for count(*)) and window
 * length in ms.
 */
export const FEATURES = [
  { name: "flights_1h", fn: "count", field: undefined, windowMs: HOUR },
  { name: "delay_sum_1d", fn: "sum", field: "delay", windowMs: DAY },
  { name: "delay_avg_7d", fn: "avg", field: "delay", windowMs: 7 * DAY },
  { name: "delay_max_1d", fn: "max", field: "delay", windowMs: DAY },
  { name: "delay_min_1d", fn: "min", field: "delay", windowMs: DAY },
] as const;

export type Feature = (typeof FEATURES)[number];
export type FeatureName = Feature["name"];

/** count and sum read 0 over an empty window; avg, min and max read null. */
export function zeroWhenEmpty(f: Feature): boolean {
  return f.fn === "count" || f.fn === "sum";
}

/**
 * DuckDB window SQL over a table (origin, delay, distance, ts BIGINT epoch ms)
 * computing every feature per event, as DOUBLE: `RANGE BETWEEN (w − 1)
 * PRECEDING AND CURRENT ROW` over integer milliseconds is exactly (t − w, t],
 * peers (events at the same time) included.
 */
export function windowSql(table: string): string {
  const cols = FEATURES.map(
    (f) =>
      `(${f.fn}(${f.field ?? "*"}) OVER (PARTITION BY origin ORDER BY ts RANGE BETWEEN ${f.windowMs - 1} PRECEDING AND CURRENT ROW))::DOUBLE AS ${f.name}`,
  ).join(",\n  ");
  return `SELECT origin, ts,\n  ${cols}\nFROM ${table}\nWHERE distance > 0`;
}
