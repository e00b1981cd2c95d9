/**
 * Offline (training-set) bench on vega-datasets' flights-3m: 1M seeded label
 * rows (random origin, random time within the flights' range) joined point
 * in time against the flights demo's airport_delays features, Freshet's
 * store.trainingSet against DuckDB's ASOF JOIN of the same rows, in the same
 * run.
 *
 *   npm run bench:offline                         # 1M labels, all flights, 5 runs
 *   npm run bench:offline -- --labels=200000 --rows=500000 --runs=5
 *
 * Each timed section starts after a full GC and a pause (untimed). Sides
 * alternate within a run, so that noise on a shared machine spreads over both.
 * Each section's CPU time (all threads of the process) is printed too: on a
 * shared machine it moves less than the wall time.
 *
 * Setup, all untimed:
 * - DuckDB: the flights table, the per-event feature history as a table
 *   `history` (origin, ts, five features; one row per origin and event time,
 *   computed by the window SQL that test/oracle.duckdb.test.ts checks against
 *   Freshet), and the labels as a table `labels` (id, origin, ts).
 * - Freshet: a store per run with materializeOffline done over the same flights.
 *
 * Timed:
 * - Freshet: the first trainingSet call of a store (it replays the table's
 *   history into an as-of index, which is then cached) and a second call
 *   (reuses the index), each producing 1M row objects in label order; and
 *   the same reads as columns (getHistorical with `columns: true`), the
 *   closer match to a DuckDB result table.
 * - DuckDB: `labels ASOF LEFT JOIN history`, (a) materialized into a result
 *   table inside DuckDB, with its default threads and again with one thread
 *   (Freshet reads on one), and (b) fetched into JS as columns (id and the
 *   five features into Float64Arrays indexed by label id).
 *
 * The two are not the same computation. ASOF returns the features as of the
 * latest event at or before the label's time; Freshet returns them as of the
 * label's time itself, so a sliding window has decayed by whatever left it
 * since that event (trainingSet's documented semantics). Freshet therefore
 * does at least the work of the ASOF lookup, plus the window arithmetic. The
 * final check covers both: on a sample, Freshet's latest event time per row
 * equals the ASOF match, Freshet's features at that event time equal the ASOF
 * row's, and Freshet's features at the label time equal DuckDB's window
 * aggregates over (t − w, t] computed by a range join.
 */
import { cpus, totalmem } from "node:os";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { mulberry32 } from "../src/sources/generator/generatorSource.js";
import { FeatureStore, type Row } from "../src/index.js";
import { fullGc, numberArg } from "./benchArgs.js";
import { createFlightsTable, readFlightsTable, type FlightRow } from "./flightsData.js";
import { airportDelays, FEATURES, flights, windowSql, zeroWhenEmpty } from "./flightsPipeline.js";

const ROWS = numberArg("rows");
const LABELS = Math.floor(numberArg("labels") ?? 1_000_000);
const RUNS = Math.floor(numberArg("runs") ?? 5);
const SAMPLE = Math.min(LABELS, Math.floor(numberArg("sample") ?? 20_000));
const SEED = 20_010_911;
const AVG_REL_TOL = 1e-9;
const TABLE = airportDelays.name;
const FEATURE_SQL = FEATURES.map((f) => `h.${f.name}`).join(", ");

interface Timing {
  best: number;
  median: number;
  all: number[];
}

function timing(ms: readonly number[]): Timing {
  const s = ms.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { best: s[0] as number, median, all: ms.slice() };
}

/**
 * A full GC outside the timings, then a pause: the collector's concurrent
 * sweeping would otherwise land in the next timed section.
 */
async function settle(): Promise<void> {
  fullGc();
  await new Promise((resolve) => setTimeout(resolve, 200));
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");
const fmtMs = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;
const fmtRate = (n: number, ms: number): string => `${((n / ms) * 1000 / 1e6).toFixed(2)} M/s`;

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? "").length)));
  const line = (r: readonly string[]): string => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join("   ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("   "), ...rows.map(line)].join("\n");
}

// A type alias (not an interface) so that labels pass where rows (Record<string, unknown>) are taken.
type Label = { origin: string; ts: number };

/** Seeded labels: an origin drawn uniformly from the flights' origins, a time uniform over [first, last] event time. */
function makeLabels(rows: readonly FlightRow[], n: number): Label[] {
  const origins = [...new Set(rows.map((r) => r.origin))].sort();
  const first = (rows[0] as FlightRow).date;
  const last = (rows[rows.length - 1] as FlightRow).date;
  const rand = mulberry32(SEED);
  const out: Label[] = new Array<Label>(n);
  for (let i = 0; i < n; i++) out[i] = { origin: origins[Math.floor(rand() * origins.length)] as string, ts: first + Math.floor(rand() * (last - first + 1)) };
  return out;
}

async function appendLabels(conn: DuckDBConnection, name: string, labels: readonly Label[], ids?: readonly number[]): Promise<void> {
  await conn.run(`CREATE OR REPLACE TABLE ${name} (id INTEGER, origin VARCHAR, ts BIGINT)`);
  const app = await conn.createAppender(name);
  const n = ids === undefined ? labels.length : ids.length;
  for (let j = 0; j < n; j++) {
    const id = ids === undefined ? j : (ids[j] as number);
    const l = labels[id] as Label;
    app.appendInteger(id);
    app.appendVarchar(l.origin);
    app.appendBigInt(BigInt(l.ts));
    app.endRow();
  }
  app.closeSync();
}

const ASOF_FROM = `FROM labels l ASOF LEFT JOIN history h ON l.origin = h.origin AND l.ts >= h.ts`;

/**
 * Wall time of one section, and the CPU time the process spent in it (all
 * its threads: DuckDB's workers and V8's collector threads included). On a
 * shared machine the CPU time moves less than the wall time.
 */
async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await f();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, ms, cpuMs: (c.user + c.system) / 1000 };
}

/** DuckDB (a): the ASOF join materialized into a DuckDB table. */
async function duckMaterialized(conn: DuckDBConnection): Promise<void> {
  await conn.run(`CREATE OR REPLACE TABLE asof_result AS SELECT l.id, l.origin, l.ts, ${FEATURE_SQL} ${ASOF_FROM}`);
}

/** DuckDB (b): the ASOF join fetched into JS, chunk by chunk: each feature into a Float64Array by label id (NaN for null). */
async function duckFetched(conn: DuckDBConnection, n: number): Promise<Float64Array[]> {
  const columns = FEATURES.map(() => new Float64Array(n));
  const result = await conn.stream(`SELECT l.id, ${FEATURE_SQL} ${ASOF_FROM}`);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (chunk === null || chunk.rowCount === 0) break;
    const ids = chunk.getColumnValues(0);
    for (let k = 0; k < FEATURES.length; k++) {
      const col = columns[k] as Float64Array;
      const vals = chunk.getColumnValues(k + 1);
      for (let i = 0; i < chunk.rowCount; i++) {
        const v = vals[i];
        col[ids[i] as number] = typeof v === "number" ? v : Number.NaN;
      }
    }
  }
  return columns;
}

/** A feature value as the check compares it: NaN for null. */
function num(v: unknown, what: string): number {
  if (v === null || v === undefined) return Number.NaN;
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  throw new Error(`${what} is not a number: ${String(v)}`);
}

function same(fn: string, a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (fn !== "avg") return a === b;
  return Math.abs(a - b) <= AVG_REL_TOL * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * The agreement check on a sample of label ids (see the file comment).
 * Returns the lines to print and whether everything agreed.
 */
async function check(conn: DuckDBConnection, store: FeatureStore, labels: readonly Label[], result: readonly Row[], fetched: readonly Float64Array[]): Promise<{ lines: string[]; ok: boolean }> {
  const rand = mulberry32(SEED + 1);
  const ids = Array.from({ length: SAMPLE }, () => Math.floor(rand() * labels.length));
  await appendLabels(conn, "sample", labels, ids);
  const lines: string[] = [];
  let ok = true;
  const note = (what: string, bad: number, of: number, example: string): void => {
    lines.push(`${what}: ${bad === 0 ? "all" : `${fmtInt(of - bad)} of`} ${fmtInt(of)} agree${bad === 0 ? "" : ` — e.g. ${example}`}`);
    if (bad > 0) ok = false;
  };

  // (1) The ASOF match: Freshet's latest event time per sampled row and the
  // features there, against DuckDB's ASOF row (materialized table and fetched columns).
  const asof = (
    await conn.runAndReadAll(`SELECT s.id, h.ts, ${FEATURE_SQL} FROM sample s ASOF LEFT JOIN history h ON s.origin = h.origin AND s.ts >= h.ts ORDER BY s.rowid`)
  ).getRows();
  const matched = (
    await conn.runAndReadAll(`SELECT s.id, ${FEATURES.map((f) => `r.${f.name}`).join(", ")} FROM sample s JOIN asof_result r ON r.id = s.id ORDER BY s.rowid`)
  ).getRows();
  const sampleRows = ids.map((id) => labels[id] as Label);
  const times = await store.pointInTimeEventTimes(TABLE, sampleRows);
  let badTime = 0;
  let exTime = "";
  const atEvent: Label[] = [];
  const atEventAsof: Array<readonly unknown[]> = [];
  asof.forEach((r, j) => {
    const hts = r[1] === null ? null : num(r[1], "history ts");
    if (hts !== (times[j] ?? null)) {
      badTime++;
      exTime ||= `label ${String(r[0])}: ASOF event ${String(hts)}, Freshet ${String(times[j])}`;
    }
    if (hts !== null) {
      atEvent.push({ origin: (sampleRows[j] as Label).origin, ts: hts });
      atEventAsof.push(r);
    }
  });
  note("latest event time <= label time, Freshet pointInTimeEventTimes vs ASOF match", badTime, SAMPLE, exTime);
  const atEventRows = await store.trainingSet({ entities: atEvent, features: [`${TABLE}:*`] });
  let badAt = 0;
  let exAt = "";
  atEventRows.forEach((r, j) => {
    const a = atEventAsof[j] as readonly unknown[];
    FEATURES.forEach((f, k) => {
      const got = num(r[f.name], f.name);
      const want = num(a[2 + k], f.name);
      if (!same(f.fn, got, want)) {
        badAt++;
        exAt ||= `${f.name} at (${String(r["origin"])}, ${String(r["ts"])}): Freshet ${got}, ASOF ${want}`;
      }
    });
  });
  note("features at the matched event time, Freshet trainingSet vs ASOF row (values)", badAt, atEvent.length * FEATURES.length, exAt);
  let badCopy = 0;
  matched.forEach((r, j) => {
    const id = ids[j] as number;
    FEATURES.forEach((f, k) => {
      if (!same(f.fn, num(r[1 + k], f.name), (fetched[k] as Float64Array)[id] as number)) badCopy++;
    });
  });
  note("ASOF materialized table vs ASOF fetched columns (values)", badCopy, SAMPLE * FEATURES.length, "");

  // (2) Freshet at the label time against DuckDB's window aggregates over (t − w, t].
  const maxW = Math.max(...FEATURES.map((f) => f.windowMs));
  const cols = FEATURES.map((f) => `(${f.fn}(${f.field === undefined ? "f.ts" : `f.${f.field}`}) FILTER (WHERE f.ts > s.ts - ${f.windowMs}))::DOUBLE`).join(", ");
  const asOfT = (
    await conn.runAndReadAll(`SELECT s.rowid, ${cols} FROM sample s LEFT JOIN flights f
       ON f.origin = s.origin AND f.distance > 0 AND f.ts <= s.ts AND f.ts > s.ts - ${maxW}
       GROUP BY s.rowid, s.id ORDER BY s.rowid`)
  ).getRows();
  let badT = 0;
  let exT = "";
  let decayed = 0;
  asOfT.forEach((r, j) => {
    const id = ids[j] as number;
    const got = result[id] as Row;
    const l = labels[id] as Label;
    if (got["origin"] !== l.origin || got["ts"] !== l.ts) {
      badT++;
      exT ||= `row ${id} is (${String(got["origin"])}, ${String(got["ts"])}), label (${l.origin}, ${l.ts})`;
      return;
    }
    let differsFromAsof = false;
    FEATURES.forEach((f, k) => {
      const raw = num(r[1 + k], f.name);
      const want = Number.isNaN(raw) && zeroWhenEmpty(f) ? 0 : raw;
      const value = num(got[f.name], f.name);
      if (!same(f.fn, value, want)) {
        badT++;
        exT ||= `${f.name} at (${l.origin}, ${l.ts}): Freshet ${value}, SQL ${want}`;
      }
      const a = (fetched[k] as Float64Array)[id] as number;
      const asofValue = Number.isNaN(a) && zeroWhenEmpty(f) ? 0 : a;
      if (!same(f.fn, value, asofValue)) differsFromAsof = true;
    });
    if (differsFromAsof) decayed++;
  });
  note("features at the label time, Freshet trainingSet vs SQL over (t − w, t]", badT, SAMPLE * FEATURES.length, exT);
  lines.push(`(for information) sampled rows whose value at the label time differs from ASOF's value at the latest event (windows decayed): ${fmtInt(decayed)} of ${fmtInt(SAMPLE)}`);
  return { lines, ok };
}

async function main(): Promise<void> {
  const started = performance.now();
  const cpu = cpus();
  console.log(`Freshet offline bench: trainingSet of ${fmtInt(LABELS)} labels vs DuckDB ASOF JOIN, flights-3m, ${TABLE} (count 1h, sum 1d, avg 7d, max 1d, min 1d by origin)`);
  console.log(`machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, ${process.platform}/${process.arch}`);

  // ---- load, untimed --------------------------------------------------------
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  const ver = (await conn.runAndReadAll("SELECT version()")).getRows()[0]?.[0];
  const threads = (await conn.runAndReadAll("SELECT current_setting('threads')")).getRows()[0]?.[0];
  console.log(`duckdb: ${String(ver)}, threads=${String(threads)}; Freshet trainingSet: one thread`);
  const t0 = performance.now();
  const total = await createFlightsTable(conn, "flights", ROWS === undefined ? {} : { limit: ROWS });
  const rows = await readFlightsTable(conn, "flights");
  if (rows.length !== total) throw new Error(`loaded ${rows.length} rows, table has ${total}`);
  await conn.run(`CREATE OR REPLACE TABLE history AS SELECT DISTINCT * FROM (${windowSql("flights")})`);
  const historyRows = Number((await conn.runAndReadAll("SELECT count(*)::DOUBLE FROM history")).getRows()[0]?.[0]);
  const labels = makeLabels(rows, LABELS);
  await appendLabels(conn, "labels", labels);
  console.log(
    `data: ${fmtInt(rows.length)} flights, history ${fmtInt(historyRows)} rows (origin, event time), ${fmtInt(LABELS)} labels (seed ${SEED}); loaded in ${fmtMs(performance.now() - t0)} (untimed)`,
  );
  console.log(`runs per side: ${RUNS}\n`);

  const firstMs: number[] = [];
  const secondMs: number[] = [];
  const columnsMs: number[] = [];
  const matMs: number[] = [];
  const mat1Ms: number[] = [];
  const fetchMs: number[] = [];
  // CPU time per section, by the names of the rows printed below.
  const cpuMs = new Map<string, number[]>();
  const section = async <T>(name: string, wall: number[], f: () => Promise<T>): Promise<T> => {
    const r = await timed(f);
    wall.push(r.ms);
    let c = cpuMs.get(name);
    if (c === undefined) cpuMs.set(name, (c = []));
    c.push(r.cpuMs);
    return r.value;
  };
  let result: Row[] = [];
  let fetched: Float64Array[] = [];
  let store: FeatureStore | undefined;
  const spec = { entities: labels, features: [`${TABLE}:*`] };
  for (let run = 0; run < RUNS; run++) {
    await store?.close();
    store = undefined;
    result = [];
    await settle();
    const s = await FeatureStore.open();
    await s.apply([flights, airportDelays]);
    await s.materializeOffline({ flights: rows });
    store = s;
    await settle();
    let out = await section("Freshet trainingSet, first call", firstMs, () => s.trainingSet(spec));
    if (out.length !== LABELS) throw new Error(`trainingSet returned ${out.length} rows`);
    out = [];
    await settle();
    result = await section("Freshet trainingSet, second call", secondMs, () => s.trainingSet(spec));
    await settle();
    const cols = await section("Freshet getHistorical columns", columnsMs, () => s.getHistorical(TABLE, labels, { columns: true }));
    if (cols.features.size !== FEATURES.length) throw new Error(`getHistorical returned ${cols.features.size} columns`);
    await settle();
    await section(`DuckDB ASOF materialized, threads = ${String(threads)}`, matMs, () => duckMaterialized(conn));
    // The same on one thread, as Freshet's reads run.
    await settle();
    await conn.run("SET threads = 1");
    await section("DuckDB ASOF materialized, threads = 1", mat1Ms, () => duckMaterialized(conn));
    await conn.run(`SET threads = ${String(threads)}`);
    await settle();
    fetched = await section("DuckDB ASOF fetched into JS columns", fetchMs, () => duckFetched(conn, LABELS));
    process.stdout.write(
      `  run ${run + 1}/${RUNS}: Freshet first ${fmtMs(firstMs[run] as number)}, second ${fmtMs(secondMs[run] as number)}, columns ${fmtMs(columnsMs[run] as number)}; DuckDB ASOF materialized ${fmtMs(matMs[run] as number)} (1 thread ${fmtMs(mat1Ms[run] as number)}), fetched ${fmtMs(fetchMs[run] as number)}\n`,
    );
  }
  if (store === undefined) throw new Error("no run");
  console.log("");

  const first = timing(firstMs);
  const second = timing(secondMs);
  const mat = timing(matMs);
  const fetch = timing(fetchMs);
  const row = (name: string, t: Timing): string[] => [name, fmtMs(t.best), fmtMs(t.median), fmtRate(LABELS, t.best), t.all.map((x) => (x / 1000).toFixed(3)).join(" / ")];
  console.log(
    table(
      ["side", "best", "median", "labels/s (best)", "runs (s)"],
      [
        row("Freshet trainingSet, first call (replays the history into the as-of index)", first),
        row("  the first call less the second (≈ replaying the history)", timing(firstMs.map((x, i) => x - (secondMs[i] as number)))),
        row("Freshet trainingSet, second call (index cached)", second),
        row("Freshet getHistorical(..., { columns: true }): the same reads, columns instead of row objects", timing(columnsMs)),
        row("DuckDB ASOF LEFT JOIN, materialized into a table", mat),
        row("  the same with threads = 1", timing(mat1Ms)),
        row("DuckDB ASOF LEFT JOIN, fetched into JS columns", fetch),
      ],
    ),
  );
  console.log("");
  const ratio = (a: Timing, b: Timing, which: "best" | "median"): string => `${(b[which] / a[which]).toFixed(2)}x`;
  console.log(
    table(
      ["ratio (DuckDB time / Freshet time; >= 1: Freshet no slower)", "best", "median"],
      [
        ["second call / ASOF materialized", ratio(second, mat, "best"), ratio(second, mat, "median")],
        ["second call / ASOF materialized, DuckDB on 1 thread", ratio(second, timing(mat1Ms), "best"), ratio(second, timing(mat1Ms), "median")],
        ["second call / ASOF fetched", ratio(second, fetch, "best"), ratio(second, fetch, "median")],
        ["getHistorical columns / ASOF materialized", ratio(timing(columnsMs), mat, "best"), ratio(timing(columnsMs), mat, "median")],
        ["first call / ASOF materialized", ratio(first, mat, "best"), ratio(first, mat, "median")],
        ["first call / ASOF fetched", ratio(first, fetch, "best"), ratio(first, fetch, "median")],
      ],
    ),
  );

  console.log("");
  console.log(
    table(
      ["CPU time of the process in each section (all threads)", "best", "median", "runs (s)"],
      [...cpuMs].map(([name, ms]) => {
        const t = timing(ms);
        return [name, fmtMs(t.best), fmtMs(t.median), t.all.map((x) => (x / 1000).toFixed(3)).join(" / ")];
      }),
    ),
  );

  // ---- agreement --------------------------------------------------------------
  console.log(`\nagreement on ${fmtInt(SAMPLE)} sampled labels (last run):`);
  const { lines, ok } = await check(conn, store, labels, result, fetched);
  for (const l of lines) console.log(`  ${l}`);
  console.log(`consistent: ${ok ? "yes" : "no"}`);
  console.log(`\nbench wall time ${fmtMs(performance.now() - started)}`);
  await store.close();
  conn.closeSync();
  instance.closeSync();
  if (!ok) process.exitCode = 1;
}

await main();
