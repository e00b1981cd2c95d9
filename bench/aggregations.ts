/**
 * Rich-aggregation bench on vega-datasets' flights-3m: for each aggregation,
 * a one-feature table by origin replayed with materializeOffline (one thread,
 * every history row emitted), next to two baselines measured in the same run:
 * a one-feature `count` table (Freshet's cheapest read) and DuckDB window SQL
 * computing the same feature where SQL can state it.
 *
 *   npm run bench:aggregations                    # first 500,000 events, 3 runs
 *   npm run bench:aggregations -- --rows=200000 --runs=1
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { cpus } from "node:os";
import {
  approxDistinct,
  approxQuantile,
  count,
  decayedSum,
  distinctCount,
  FeatureStore,
  first,
  lastK,
  stddev,
  topK,
  type AnyTable,
} from "../src/index.js";
import { fullGc, numberArg } from "./benchArgs.js";
import { createFlightsTable, readFlightsTable, type FlightRow } from "./flightsData.js";
import { flights } from "./flightsPipeline.js";

const ROWS = Math.floor(numberArg("rows") ?? 500_000);
const RUNS = Math.floor(numberArg("runs") ?? 3);
const DAY = 86_400_000;
const frame = `OVER (PARTITION BY origin ORDER BY ts RANGE BETWEEN ${DAY - 1} PRECEDING AND CURRENT ROW)`;

interface Case {
  readonly name: string;
  /** The one-feature table by origin. */
  readonly table: AnyTable;
  /** DuckDB window SQL computing the same value per event, when SQL can say it. */
  readonly sql: string | undefined;
}

/** A table by origin with the one feature `x`. */
const one = <A extends Parameters<ReturnType<typeof flights.groupBy<"origin">>["aggregate"]>[0][string]>(agg: A): AnyTable =>
  flights.groupBy("origin").aggregate({ x: agg }).as("bench_table");

const CASES: Case[] = [
  { name: "count 1d (baseline)", table: one(count({ window: "1d" })), sql: `count(*) ${frame}` },
  { name: "stddev 1d", table: one(stddev("delay", { window: "1d" })), sql: `stddev_pop(delay) ${frame}` },
  { name: "first 1d", table: one(first("destination", { window: "1d" })), sql: `arg_min(destination, seq) ${frame}` },
  { name: "lastK k=3 1d", table: one(lastK("destination", { window: "1d", k: 3 })), sql: `list(destination ORDER BY seq DESC) ${frame}[1:3]` },
  { name: "distinctCount 1d", table: one(distinctCount("destination", { window: "1d" })), sql: `count(DISTINCT destination) ${frame}` },
  { name: "approxDistinct 1d", table: one(approxDistinct("destination", { window: "1d" })), sql: `approx_count_distinct(destination) ${frame}` },
  { name: "approxQuantile q=0.9 1d", table: one(approxQuantile("delay", { window: "1d", q: 0.9 })), sql: `quantile_disc(delay, 0.9) ${frame}` },
  { name: "topK k=3 1d", table: one(topK("destination", { window: "1d", k: 3 })), sql: undefined },
  { name: "decayedSum 1h half-life, 1d", table: one(decayedSum("delay", { window: "1d", halfLife: "1h" })), sql: undefined },
];

async function main(): Promise<void> {
  const cpu = cpus();
  console.log(`Freshet rich-aggregation bench: flights-3m, first ${ROWS.toLocaleString("en-US")} events, one feature per table by origin, window 1 day`);
  console.log(`machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? "?"}), node ${process.version}; Freshet on one thread (workers: 0), DuckDB with its default threads\n`);
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  const total = await createFlightsTable(conn, "flights", { limit: ROWS });
  const rows: FlightRow[] = await readFlightsTable(conn, "flights");
  if (rows.length !== total) throw new Error(`loaded ${rows.length} rows, table has ${total}`);

  const best = (xs: number[]): number => Math.min(...xs);
  const results: string[][] = [];
  let baseline = 0;
  for (const c of CASES) {
    const table = c.table;
    const fr: number[] = [];
    const dk: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      fullGc();
      const store = await FeatureStore.open();
      await store.apply([flights, table]);
      let emitted = 0;
      const t0 = performance.now();
      await store.materializeOffline({ flights: rows }, { workers: 0, onTableRows: (_t, r) => void (emitted += r.length) });
      fr.push(performance.now() - t0);
      await store.close();
      if (emitted === 0) throw new Error(`${c.name}: no history rows`);
      if (c.sql !== undefined) {
        fullGc();
        const t1 = performance.now();
        await conn.runAndReadAll(`SELECT count(x) FROM (SELECT ${c.sql} AS x FROM flights WHERE distance > 0)`);
        dk.push(performance.now() - t1);
      }
    }
    const f = best(fr);
    if (baseline === 0) baseline = f;
    const rate = (ms: number): string => `${((rows.length / ms) * 1000 / 1e6).toFixed(2)} M/s`;
    results.push([
      c.name,
      `${(f / 1000).toFixed(3)} s`,
      rate(f),
      `${(f / baseline).toFixed(1)}x`,
      dk.length === 0 ? "-" : `${(best(dk) / 1000).toFixed(3)} s`,
      dk.length === 0 ? "-" : `${(best(dk) / f).toFixed(2)}x`,
    ]);
    process.stdout.write(`  ${c.name}: freshet ${fr.map((x) => (x / 1000).toFixed(2)).join(" / ")} s${dk.length > 0 ? `, duckdb ${dk.map((x) => (x / 1000).toFixed(2)).join(" / ")} s` : ""}\n`);
  }
  conn.closeSync();
  instance.closeSync();
  const header = ["aggregation", "freshet (best)", "events/s", "time vs count", "duckdb (best)", "freshet speed-up vs duckdb"];
  const all = [header, ...results];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  console.log("");
  for (const [n, r] of all.entries()) {
    console.log(r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join("   "));
    if (n === 0) console.log(widths.map((w) => "-".repeat(w)).join("   "));
  }
}

await main();
