/**
 * Engine bench on vega-datasets' flights-3m (3M events, 229 airports):
 * Freshet's offline backfill and online push path against DuckDB window SQL
 * computing the same per-event features, plus a consistency check of the two.
 *
 *   npm run bench:engine                 # all rows, 3 runs per side
 *   npm run bench:engine -- --rows=500000 --runs=2
 *   npm run bench:engine -- --duckdb=inprocess   # DuckDB in this process, as before 2026-12-03
 *
 * Data is read once, before any timing: DuckDB loads the parquet file into an
 * in-memory table, and the same rows are streamed into JS objects. DuckDB
 * then runs in a child process of its own (see duckdbProcess.ts: in this
 * process its queries slow the Freshet runs after them), loading the same
 * table there, untimed.
 */
import { cpus, loadavg, totalmem } from "node:os";
import { DuckDBInstance } from "@duckdb/node-api";
import { WorkerPool } from "../src/engine/parallel/pool.js";
import { FeatureStore, type EmittedRows } from "../src/index.js";
import { numberArg, settle } from "./benchArgs.js";
import { DuckDBProcess } from "./duckdbProcess.js";
import { createFlightsTable, readFlightsTable, type FlightRow } from "./flightsData.js";
import { airportDelays, FEATURES, flights, windowSql, zeroWhenEmpty } from "./flightsPipeline.js";


const ROWS = numberArg("rows");
const RUNS = Math.floor(numberArg("runs") ?? 3);
const PUSH_BATCH = 10_000;
const DUCK_IN_PROCESS = process.argv.includes("--duckdb=inprocess");
const NF = FEATURES.length;

interface Timing {
  best: number;
  median: number;
  all: number[];
}

function timing(ms: number[]): Timing {
  const s = ms.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { best: s[0] as number, median, all: ms };
}

/**
 * Wall time of `run`, and the cores the process kept busy meanwhile (its CPU
 * time over the wall time): on this shared machine a side given one core
 * where it could use two shows here, not only in its time.
 */
async function timed(run: () => Promise<void>): Promise<{ ms: number; cores: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { ms, cores: (cpu.user + cpu.system) / 1000 / ms };
}

/** Per-feature sums of non-null values plus the row count: the checksum of a table history. */
class Checksum {
  rows = 0;
  readonly sums = new Float64Array(NF);
  readonly nonNull = new Float64Array(NF);

  add(r: EmittedRows): void {
    this.rows += r.length;
    for (let k = 0; k < NF; k++) {
      const col = r.values[k] as Float64Array;
      let s = 0;
      let c = 0;
      for (let i = 0; i < r.length; i++) {
        const v = col[i] as number;
        if (v === v) {
          s += v;
          c++;
        }
      }
      this.sums[k] = (this.sums[k] as number) + s;
      this.nonNull[k] = (this.nonNull[k] as number) + c;
    }
  }

  /**
   * Same rows and non-null counts; sums equal up to 1e-12 relative, since a
   * parallel replay delivers rows in another order and float sums depend on it.
   */
  equals(o: Checksum): boolean {
    const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a), Math.abs(b));
    return this.rows === o.rows && this.sums.every((v, k) => close(v, o.sums[k] as number)) && this.nonNull.every((v, k) => v === o.nonNull[k]);
  }
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");
const fmtMs = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;
const fmtRate = (events: number, ms: number): string => `${((events / ms) * 1000 / 1e6).toFixed(2)} M/s`;

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? "").length)));
  const line = (r: readonly string[]): string =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join("   ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("   "), ...rows.map(line)].join("\n");
}


async function main(): Promise<void> {
  const started = performance.now();
  const cpu = cpus();
  console.log("Freshet engine bench: flights-3m, airport_delays (count 1h, sum 1d, avg 7d, max 1d, min 1d by origin)");
  console.log(
    `machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, ${process.platform}/${process.arch}`,
  );

  // ---- load, untimed --------------------------------------------------------
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  const ver = (await conn.runAndReadAll("SELECT version()")).getRows()[0]?.[0];
  const threads = (await conn.runAndReadAll("SELECT current_setting('threads')")).getRows()[0]?.[0];
  const workers = WorkerPool.defaultSize();
  console.log(
    `duckdb: ${String(ver)}, threads=${String(threads)}, ${DUCK_IN_PROCESS ? "in this process" : "in a child process"}; Freshet backfill: main thread + ${workers} aggregate worker thread(s) (workers: "auto"), push: one thread`,
  );
  let t0 = performance.now();
  const total = await createFlightsTable(conn, "flights", ROWS === undefined ? {} : { limit: ROWS });
  const rows: FlightRow[] = await readFlightsTable(conn, "flights");
  const child = DUCK_IN_PROCESS ? undefined : await DuckDBProcess.start(ROWS);
  if (child !== undefined) {
    conn.closeSync();
    instance.closeSync();
  }
  /** One DuckDB query: its wall time, the cores DuckDB kept busy, the rows. */
  const duck = async (sql: string): Promise<{ ms: number; cores: number; rows: unknown[][] }> => {
    if (child !== undefined) return child.run(sql);
    let result: unknown[][] = [];
    const t = await timed(async () => void (result = (await conn.runAndReadAll(sql)).getRows() as unknown[][]));
    return { ...t, rows: result };
  };
  const loadMs = performance.now() - t0;
  if (rows.length !== total) throw new Error(`loaded ${rows.length} rows, table has ${total}`);
  const events = rows.length;
  const airports = [...new Set(rows.map((r) => r.origin))].sort();
  const kept = rows.reduce((n, r) => n + (r.distance > 0 ? 1 : 0), 0);
  console.log(
    `data: ${fmtInt(events)} events (${fmtInt(kept)} with distance > 0), ${airports.length} origins; loaded into DuckDB and JS in ${fmtMs(loadMs)} (untimed)`,
  );
  // The aggregate worker threads are started (and, from source, compile their
  // modules) before timing, as DuckDB's instance is created before timing.
  if (workers > 0) {
    const store = await FeatureStore.open();
    await store.apply([flights, airportDelays]);
    await store.materializeOffline({ flights: rows.slice(0, 20_000) }, { workers });
    await store.close();
  }
  console.log(`runs per side: ${RUNS}; load average at start ${loadavg().map((l) => l.toFixed(2)).join(" ")} on ${cpu.length} cores\n`);

  // Sides are interleaved run by run, so that noise on this shared machine
  // (other processes, GC of earlier runs) spreads over all of them.
  const batches: FlightRow[][] = [];
  for (let i = 0; i < events; i += PUSH_BATCH) batches.push(rows.slice(i, i + PUSH_BATCH));
  const sumCols = FEATURES.map((f) => `sum(${f.name})`).join(", ");
  const duckSql = `SELECT count(*), ${sumCols} FROM (${windowSql("flights")})`;
  const backfillMs: number[] = [];
  const backfillOneMs: number[] = [];
  const pushMs: number[] = [];
  const onlineMs: number[] = [];
  const duckMs: number[] = [];
  const cores = { backfill: [] as number[], one: [] as number[], push: [] as number[], duck: [] as number[] };
  let freshetSum: Checksum | undefined;
  let stableChecksum = true;
  let online: Array<Record<string, unknown>> = [];
  for (let run = 0; run < RUNS; run++) {
    // (a) Freshet offline backfill, every emitted row folded into a checksum.
    await settle();
    {
      const store = await FeatureStore.open();
      await store.apply([flights, airportDelays]);
      const sum = new Checksum();
      const t = await timed(async () => void (await store.materializeOffline({ flights: rows }, { onTableRows: (_t, r) => sum.add(r) })));
      backfillMs.push(t.ms);
      cores.backfill.push(t.cores);
      await store.close();
      if (freshetSum === undefined) freshetSum = sum;
      else if (!sum.equals(freshetSum)) stableChecksum = false;
    }
    // (a1) The same backfill on the calling thread alone (workers: 0).
    await settle();
    {
      const store = await FeatureStore.open();
      await store.apply([flights, airportDelays]);
      const sum = new Checksum();
      const t = await timed(async () => void (await store.materializeOffline({ flights: rows }, { workers: 0, onTableRows: (_t, r) => sum.add(r) })));
      backfillOneMs.push(t.ms);
      cores.one.push(t.cores);
      await store.close();
      if (freshetSum !== undefined && !sum.equals(freshetSum)) stableChecksum = false;
    }
    // (b) Freshet online push in batches of 10,000, then one online read of every airport.
    await settle();
    {
      const store = await FeatureStore.open({ clock: "event" });
      await store.apply([flights, airportDelays]);
      const t = await timed(async () => {
        for (const b of batches) await store.push("flights", b);
      });
      const t1 = performance.now();
      online = await store.getOnline(airportDelays, airports.map((origin) => ({ origin })));
      pushMs.push(t.ms);
      cores.push.push(t.cores);
      onlineMs.push(performance.now() - t1);
      await store.close();
    }
    // (c) DuckDB window SQL: all five features per event, summed.
    await settle();
    const d = await duck(duckSql);
    duckMs.push(d.ms);
    cores.duck.push(d.cores);
    const side = (ms: number[], c: number[]): string => `${fmtMs(ms[run] as number)} (${(c[run] as number).toFixed(2)} cores)`;
    process.stdout.write(
      `  run ${run + 1}/${RUNS}: backfill ${side(backfillMs, cores.backfill)}, one thread ${side(backfillOneMs, cores.one)}, push ${side(pushMs, cores.push)}, duckdb ${side(duckMs, cores.duck)}; load ${loadavg()[0]?.toFixed(2)}\n`,
    );
  }
  if (freshetSum === undefined) throw new Error("no backfill run");
  // For the consistency check: DuckDB over DISTINCT (origin, ts), one row per
  // key and event time as Freshet emits (timed once, for information).
  const distinctSql = `SELECT count(*)::DOUBLE, ${FEATURES.map((f) => `sum(${f.name})::DOUBLE, count(${f.name})::DOUBLE`).join(", ")}
    FROM (SELECT DISTINCT * FROM (${windowSql("flights")}))`;
  t0 = performance.now();
  const distinctRow: readonly unknown[] = (await duck(distinctSql)).rows[0] ?? [];
  const distinctMs = performance.now() - t0;
  console.log("");

  // ---- figures ----------------------------------------------------------------
  const bf = timing(backfillMs);
  const bf1 = timing(backfillOneMs);
  const ps = timing(pushMs);
  const ol = timing(onlineMs);
  const dk = timing(duckMs);
  const row = (name: string, t: Timing, n: number, c: number[]): string[] => [
    name,
    fmtMs(t.best),
    fmtMs(t.median),
    fmtRate(n, t.best),
    fmtRate(n, t.median),
    timing(c).median.toFixed(2),
    t.all.map((x) => (x / 1000).toFixed(2)).join(" / "),
  ];
  console.log(
    table(
      ["side", "best", "median", "events/s (best)", "events/s (median)", "cores used (median)", "runs (s)"],
      [
        row(`(a) Freshet materializeOffline + onTableRows checksum, ${workers} worker(s)`, bf, events, cores.backfill),
        row("    the same on one thread (workers: 0)", bf1, events, cores.one),
        row(`(b) Freshet push, batches of ${fmtInt(PUSH_BATCH)}`, ps, events, cores.push),
        [`    then getOnline(${airports.length} origins)`, fmtMs(ol.best), fmtMs(ol.median), "", "", "", ol.all.map((x) => (x / 1000).toFixed(3)).join(" / ")],
        row("(c) DuckDB window SQL, sum of each feature over all events", dk, events, cores.duck),
        ["    DuckDB window SQL + DISTINCT (origin, ts), 1 run", fmtMs(distinctMs), "", fmtRate(events, distinctMs), "", "", ""],
      ],
    ),
  );
  console.log("");
  const ratio = (a: Timing, b: Timing, which: "best" | "median"): string => `${(b[which] / a[which]).toFixed(2)}x`;
  console.log(
    table(
      ["ratio (throughput vs DuckDB window SQL; >1 = Freshet faster)", "best", "median"],
      [
        ["(d) backfill / DuckDB", ratio(bf, dk, "best"), ratio(bf, dk, "median")],
        ["    backfill on one thread / DuckDB", ratio(bf1, dk, "best"), ratio(bf1, dk, "median")],
        ["    push / DuckDB", ratio(ps, dk, "best"), ratio(ps, dk, "median")],
      ],
    ),
  );

  // ---- consistency --------------------------------------------------------------
  const duckRows = Number(distinctRow[0]);
  const checks: string[][] = [["rows (key, event time)", fmtInt(freshetSum.rows), fmtInt(duckRows), freshetSum.rows === duckRows ? "ok" : "DIFF"]];
  let consistent = freshetSum.rows === duckRows && stableChecksum;
  FEATURES.forEach((f, k) => {
    const a = freshetSum.sums[k] as number;
    const b = Number(distinctRow[1 + 2 * k]);
    const na = freshetSum.nonNull[k] as number;
    const nb = Number(distinctRow[2 + 2 * k]);
    const ok = na === nb && (f.fn === "avg" ? Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(a), Math.abs(b)) : a === b);
    if (!ok) consistent = false;
    checks.push([`sum(${f.name})`, String(a), String(b), ok ? "ok" : "DIFF"]);
    if (na !== nb) checks.push([`  non-null ${f.name}`, fmtInt(na), fmtInt(nb), "DIFF"]);
  });
  // Online reads at the watermark against DuckDB at the same time.
  const last = (rows[rows.length - 1] as FlightRow).date;
  const onlineSql = `SELECT origin, ${FEATURES.map((f) => `(${f.fn}(${f.field ?? "*"}) FILTER (WHERE ts > ${last} - ${f.windowMs}))::DOUBLE AS ${f.name}`).join(", ")}
    FROM flights WHERE distance > 0 AND ts <= ${last} GROUP BY origin`;
  const duckOnline = new Map<string, readonly unknown[]>();
  for (const r of (await duck(onlineSql)).rows) duckOnline.set(String(r[0]), r);
  let onlineDiffs = 0;
  for (const r of online) {
    const d = duckOnline.get(String(r["origin"]));
    FEATURES.forEach((f, k) => {
      const got = r[f.name];
      const raw = d?.[1 + k] ?? null;
      const want = raw === null ? (zeroWhenEmpty(f) ? 0 : null) : Number(raw);
      const same =
        got === want ||
        (f.fn === "avg" && typeof got === "number" && typeof want === "number" && Math.abs(got - want) <= 1e-6 * Math.abs(want));
      if (!same) onlineDiffs++;
    });
  }
  if (onlineDiffs > 0) consistent = false;
  console.log("");
  console.log(table(["consistency check", "Freshet", "DuckDB (DISTINCT origin, ts)", ""], checks));
  console.log(`backfill checksums agree across runs and thread counts: ${stableChecksum ? "yes" : "NO"}`);
  console.log(`getOnline at the watermark vs DuckDB, ${online.length} origins x ${NF} features: ${onlineDiffs === 0 ? "all equal" : `${onlineDiffs} differ`}`);
  console.log(`consistent: ${consistent ? "yes" : "no"}`);
  console.log(`\nbench wall time ${fmtMs(performance.now() - started)}`);
  if (child !== undefined) child.close();
  else {
    conn.closeSync();
    instance.closeSync();
  }
  if (!consistent) process.exitCode = 1;
}

await main();
