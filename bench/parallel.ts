/**
 * Parallel replay bench: the flights backfill (materializeOffline with
 * onTableRows) on one thread against the same with aggregate worker threads,
 * interleaved run by run in one process that runs nothing else.
 *
 *   npm run bench:parallel                      # workers 0, 1 and 2; 5 runs each
 *   npm run bench:parallel -- --runs=3 --rows=1000000
 */
import { availableParallelism } from "node:os";
import { DuckDBInstance } from "@duckdb/node-api";
import { WorkerPool } from "../src/engine/parallel/pool.js";
import { FeatureStore } from "../src/index.js";
import { fullGc, numberArg } from "./benchArgs.js";
import { createFlightsTable, readFlightsTable } from "./flightsData.js";
import { airportDelays, flights } from "./flightsPipeline.js";



const RUNS = Math.floor(numberArg("runs") ?? 5);
const ROWS = numberArg("rows");
const MODES = [0, 1, 2];

// Loaded through DuckDB (as the engine bench does), then DuckDB is closed: its
// threads and memory are gone before anything is timed.
const instance = await DuckDBInstance.create(":memory:");
const conn = await instance.connect();
await createFlightsTable(conn, "flights", ROWS === undefined ? {} : { limit: ROWS });
const rows = await readFlightsTable(conn, "flights");
conn.closeSync();
instance.closeSync();
console.log(`parallel replay bench: ${rows.length.toLocaleString("en-US")} flights, airport_delays, ${availableParallelism()} cores, ${RUNS} runs per side, interleaved`);

const ms = new Map<number, number[]>(MODES.map((m) => [m, []]));
const emitted = new Map<number, number>();
for (let run = -1; run < RUNS; run++) {
  for (const workers of MODES) {
    fullGc();
    const store = await FeatureStore.open();
    await store.apply([flights, airportDelays]);
    let n = 0;
    const t0 = performance.now();
    await store.materializeOffline({ flights: rows }, { workers, onTableRows: (_t, r) => (n += r.length) });
    const took = performance.now() - t0;
    await store.close();
    // Run -1 warms up (and starts the worker threads); it is not counted.
    if (run >= 0) ms.get(workers)?.push(took);
    if (emitted.has(workers) && emitted.get(workers) !== n) throw new Error(`workers=${workers} emitted ${n} rows, earlier ${emitted.get(workers)}`);
    emitted.set(workers, n);
  }
}
const base = [...(ms.get(0) ?? [])].sort((a, b) => a - b);
const median = (a: number[]): number => a[a.length >> 1] as number;
console.log("\nworkers   best      median    runs (s)                         speed-up vs 0 (best / median)");
for (const w of MODES) {
  const a = [...(ms.get(w) ?? [])].sort((x, y) => x - y);
  const runs = (ms.get(w) ?? []).map((x) => (x / 1000).toFixed(2)).join(" / ");
  const up = `${((base[0] as number) / (a[0] as number)).toFixed(2)}x / ${(median(base) / median(a)).toFixed(2)}x`;
  console.log(`${String(w).padEnd(9)} ${((a[0] as number) / 1000).toFixed(3)} s   ${(median(a) / 1000).toFixed(3)} s   ${runs.padEnd(32)} ${up}`);
}
console.log(`\nrows emitted per run: ${[...emitted].map(([w, n]) => `workers=${w}: ${n.toLocaleString("en-US")}`).join(", ")}`);
await WorkerPool.shutdown();
