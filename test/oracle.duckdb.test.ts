/**
 * DuckDB as an oracle for the windowed aggregates: real flights (23 airports
 * of very different traffic, two months, ~210k events with many ties at the
 * same minute) go through FeatureStore.materializeOffline, getHistorical and
 * push/getOnline, and every value is compared with DuckDB SQL over the same
 * rows. A sliding window of length w read at t covers (t − w, t].
 */
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { mulberry32 } from "../src/sources/generator/generatorSource.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FeatureStore, type EmittedRows } from "../src/index.js";
import { createFlightsTable, readFlightsTable, type FlightRow } from "../bench/flightsData.js";
import { airportDelays, FEATURES, flights, windowSql, zeroWhenEmpty } from "../bench/flightsPipeline.js";

const AIRPORTS = [
  "ORD", "DFW", "ATL", "IAH", "SAN", "BNA", "SMF", "PBI", "ANC", "GEG", "KOA", "MSN",
  "SRQ", "MBS", "FSM", "MRY", "CHA", "MLB", "FCA", "PSC", "OME", "CDV", "BQN",
];
/** Airports that are in the file but not in the slice, and one that is nowhere. */
const UNSEEN = ["LAX", "JFK", "ZZZ"];
const NF = FEATURES.length;
const AVG_REL_TOL = 1e-9;

/** Feature values of one (origin, time), NaN for null, in declaration order. */
interface Expected {
  origin: string;
  ts: number;
  values: number[];
}

let instance: DuckDBInstance;
let conn: DuckDBConnection;
let rows: FlightRow[];
let expectedHistory: Expected[];

beforeAll(async () => {
  instance = await DuckDBInstance.create(":memory:");
  conn = await instance.connect();
  const n = await createFlightsTable(conn, "flights", {
    where: `origin IN (${AIRPORTS.map((a) => `'${a}'`).join(", ")}) AND date < TIMESTAMP '2001-03-01'`,
  });
  expect(n).toBeGreaterThan(150_000);
  // The file has no non-positive distances; make a few so that the pipeline's
  // filter(distance > 0) has something to drop (both sides see these rows).
  await conn.run(`UPDATE flights SET distance = 0 WHERE seq % 53 = 0`);
  await conn.run(`UPDATE flights SET distance = -7 WHERE seq % 71 = 0`);
  rows = await readFlightsTable(conn, "flights");
  expect(rows.length).toBe(n);
  expectedHistory = await queryExpected(
    `SELECT DISTINCT * FROM (${windowSql("flights")}) ORDER BY origin, ts`,
  );
}, 60_000);

afterAll(() => {
  conn.closeSync();
  instance.closeSync();
});

/** Runs a query returning (origin, ts, ...features as DOUBLE) rows. */
async function queryExpected(sql: string): Promise<Expected[]> {
  const r = await conn.runAndReadAll(sql);
  return r.getRows().map((row) => {
    const origin = row[0];
    if (typeof origin !== "string") throw new Error(`oracle: origin is not a string: ${String(origin)}`);
    const values = FEATURES.map((f, k) => {
      const v = row[2 + k];
      if (v === null) return zeroWhenEmpty(f) ? 0 : Number.NaN; // SQL sum of nothing is NULL
      if (typeof v !== "number") throw new Error(`oracle: ${f.name} is not a number: ${String(v)}`);
      return v;
    });
    return { origin, ts: Number(row[1]), values };
  });
}

function sameValue(kind: (typeof FEATURES)[number]["fn"], got: number, want: number): boolean {
  if (Number.isNaN(want) || Number.isNaN(got)) return Number.isNaN(want) && Number.isNaN(got);
  if (kind !== "avg") return got === want;
  return Math.abs(got - want) <= AVG_REL_TOL * Math.max(Math.abs(got), Math.abs(want));
}

/** Compares every value; returns a description of each mismatch (at most `limit`) and their total. */
function compare(got: readonly Expected[], want: readonly Expected[], limit = 25): { mismatches: string[]; total: number } {
  const mismatches: string[] = [];
  let total = 0;
  const note = (m: string): void => {
    total++;
    if (mismatches.length < limit) mismatches.push(m);
  };
  if (got.length !== want.length) note(`row count: freshet ${got.length}, duckdb ${want.length}`);
  const n = Math.min(got.length, want.length);
  for (let i = 0; i < n; i++) {
    const g = got[i] as Expected;
    const w = want[i] as Expected;
    if (g.origin !== w.origin || g.ts !== w.ts) {
      note(`row ${i}: freshet (${g.origin}, ${iso(g.ts)}) vs duckdb (${w.origin}, ${iso(w.ts)})`);
      continue;
    }
    FEATURES.forEach((f, k) => {
      const a = g.values[k] as number;
      const b = w.values[k] as number;
      if (!sameValue(f.fn, a, b)) note(`(${g.origin}, ${iso(g.ts)} = ${g.ts}) ${f.name}: freshet ${show(a)}, duckdb ${show(b)}`);
    });
  }
  return { mismatches, total };
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}

function show(v: number): string {
  return Number.isNaN(v) ? "null" : String(v);
}

/** Collects emitted history rows of airport_delays, sorted by (origin, ts). */
function collector(): { onTableRows: (table: string, r: EmittedRows) => void; sorted: () => Expected[]; tables: Set<string> } {
  const out: Expected[] = [];
  const tables = new Set<string>();
  return {
    tables,
    onTableRows(table, r) {
      tables.add(table);
      expect(r.values.length).toBe(NF);
      for (let i = 0; i < r.length; i++) {
        const key = r.keys[i];
        const origin = key?.[0];
        if (key?.length !== 1 || typeof origin !== "string") throw new Error(`emitted row ${i} has key ${JSON.stringify(key)}`);
        out.push({ origin, ts: r.ts[i] as number, values: r.values.map((col) => col[i] as number) });
      }
    },
    sorted: () => out.sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.ts - b.ts)),
  };
}


/** DuckDB's answer for (origin, t) pairs, by an independent join formulation of (t − w, t]. */
async function expectedAt(points: ReadonlyArray<{ origin: string; ts: number }>): Promise<Expected[]> {
  await conn.run(`CREATE OR REPLACE TEMP TABLE q (id INTEGER, origin VARCHAR, ts BIGINT)`);
  const app = await conn.createAppender("q");
  points.forEach((p, i) => {
    app.appendInteger(i);
    app.appendVarchar(p.origin);
    app.appendBigInt(BigInt(p.ts));
    app.endRow();
  });
  app.closeSync();
  const maxW = Math.max(...FEATURES.map((f) => f.windowMs));
  const cols = FEATURES.map(
    (f) => `(${f.fn}(${f.field === undefined ? "f.ts" : `f.${f.field}`}) FILTER (WHERE f.ts > q.ts - ${f.windowMs}))::DOUBLE AS ${f.name}`,
  ).join(", ");
  return queryExpected(`
    SELECT q.origin, q.ts, ${cols}
    FROM q LEFT JOIN flights f
      ON f.origin = q.origin AND f.distance > 0 AND f.ts <= q.ts AND f.ts > q.ts - ${maxW}
    GROUP BY q.id, q.origin, q.ts
    ORDER BY q.id`);
}

function fromRows(got: ReadonlyArray<Record<string, unknown>>, points: ReadonlyArray<{ origin: string; ts: number }>): Expected[] {
  return got.map((r, i) => {
    const p = points[i];
    if (p === undefined) throw new Error(`extra result row ${i}`);
    expect(r["origin"]).toBe(p.origin);
    return {
      origin: p.origin,
      ts: p.ts,
      values: FEATURES.map((f) => {
        const v = r[f.name];
        if (v === null) return Number.NaN;
        if (typeof v !== "number") throw new Error(`row ${i}: ${f.name} is ${String(v)}`);
        return v;
      }),
    };
  });
}

describe("DuckDB oracle: airport_delays over real flights", () => {
  it("declares the features the oracle computes, in the same order", () => {
    const aggs = Object.entries(airportDelays.root.aggregations);
    expect(aggs.map(([name, d]) => [name, d.kind, d.field, d.window])).toEqual(
      FEATURES.map((f) => [f.name, f.fn, f.field, f.windowMs]),
    );
  });

  it("has a slice that exercises ties, filtered rows and sparse keys", async () => {
    const r = await conn.runAndReadAll(`
      SELECT (SELECT count(*) FROM flights WHERE distance <= 0)::DOUBLE,
             (SELECT count(*) FROM (SELECT origin, ts FROM flights WHERE distance > 0 GROUP BY ALL HAVING count(*) > 1))::DOUBLE,
             (SELECT count(*) FROM (SELECT DISTINCT origin, ts FROM flights WHERE distance > 0))::DOUBLE`);
    const [filtered, tiedTimes, distinctTimes] = (r.getRows()[0] ?? []).map(Number);
    expect(filtered).toBeGreaterThan(1000);
    expect(tiedTimes).toBeGreaterThan(1000);
    // DISTINCT over the window rows gives exactly one row per (origin, ts): ties share values.
    expect(expectedHistory.length).toBe(distinctTimes);
  });

  it("materializeOffline emits, for every (origin, event time), exactly DuckDB's window values", async () => {
    const store = await FeatureStore.open();
    await store.apply([flights, airportDelays]);
    const c = collector();
    const report = await store.materializeOffline({ flights: rows }, { onTableRows: c.onTableRows });
    expect(report["flights"]).toEqual({ read: rows.length, accepted: rows.length, late: 0, invalid: 0 });
    expect([...c.tables]).toEqual(["airport_delays"]);
    const got = c.sorted();
    const { mismatches, total } = compare(got, expectedHistory);
    expect(mismatches, `${total} mismatches`).toEqual([]);
    expect(got.length).toBe(expectedHistory.length);
    await store.close();
  });

  it("gives the same history from shuffled input in small batches", async () => {
    const rand = mulberry32(7);
    const shuffled = rows.slice();
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const tmp = shuffled[i] as FlightRow;
      shuffled[i] = shuffled[j] as FlightRow;
      shuffled[j] = tmp;
    }
    const store = await FeatureStore.open();
    await store.apply([flights, airportDelays]);
    const c = collector();
    await store.materializeOffline({ flights: shuffled }, { onTableRows: c.onTableRows, batchSize: 3_000 });
    const { mismatches, total } = compare(c.sorted(), expectedHistory);
    expect(mismatches, `${total} mismatches`).toEqual([]);
    await store.close();
  });

  it("getHistorical matches DuckDB at 2,000 arbitrary (origin, time) points", async () => {
    const store = await FeatureStore.open();
    await store.apply([flights, airportDelays]);
    await store.materializeOffline({ flights: rows });
    const rand = mulberry32(20010101);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)] as T;
    const first = (rows[0] as FlightRow).date;
    const last = (rows[rows.length - 1] as FlightRow).date;
    const windows = FEATURES.map((f) => f.windowMs);
    const points: Array<{ origin: string; ts: number }> = [];
    for (let i = 0; i < 2_000; i++) {
      const ev = pick(rows);
      const w = pick(windows);
      const mode = Math.floor(rand() * 8);
      let origin = ev.origin;
      let ts: number;
      switch (mode) {
        case 0: // exactly at an event time (ties included)
          ts = ev.date;
          break;
        case 1: // one ms before or after an event
          ts = ev.date + (rand() < 0.5 ? -1 : 1);
          break;
        case 2: // the event leaves a window exactly now
          ts = ev.date + w;
          break;
        case 3: // the last ms the event is still inside a window
          ts = ev.date + w - 1;
          break;
        case 4: // between events: an arbitrary time within the slice
          ts = first + Math.floor(rand() * (last - first));
          break;
        case 5: // before any event, or after the last one (windows decay)
          ts = rand() < 0.3 ? first - 1 - Math.floor(rand() * 86_400_000) : last + Math.floor(rand() * 9 * 86_400_000);
          break;
        case 6: // any airport of the slice at an arbitrary time
          origin = pick(AIRPORTS);
          ts = first - 86_400_000 + Math.floor(rand() * (last - first + 10 * 86_400_000));
          break;
        default: // an origin never seen by the table
          origin = pick(UNSEEN);
          ts = rand() < 0.5 ? ev.date : first + Math.floor(rand() * (last - first));
          break;
      }
      points.push({ origin, ts });
    }
    const got = await store.getHistorical(airportDelays, points);
    expect(got).toHaveLength(points.length);
    const want = await expectedAt(points);
    const { mismatches, total } = compare(fromRows(got, points), want);
    expect(mismatches, `${total} mismatches`).toEqual([]);
    // The points did hit both empty and busy windows.
    expect(want.filter((e) => e.values[0] === 0).length).toBeGreaterThan(100);
    expect(want.filter((e) => (e.values[0] as number) > 5).length).toBeGreaterThan(100);
    await store.close();
  });

  it("push in batches, then getOnline, matches DuckDB at and after the watermark", async () => {
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([flights, airportDelays]);
    for (let i = 0; i < rows.length; i += 10_000) {
      const r = await store.push("flights", rows.slice(i, i + 10_000));
      expect(r.late).toBe(0);
    }
    const last = (rows[rows.length - 1] as FlightRow).date;
    expect(store.now(airportDelays)?.getTime()).toBe(last);
    const keys = [...AIRPORTS, ...UNSEEN].map((origin) => ({ origin }));
    for (const dt of [0, 1, 1_800_000, 3_600_000, 86_399_999, 86_400_000, 3 * 86_400_000, 7 * 86_400_000]) {
      const at = last + dt;
      const got = dt === 0 ? await store.getOnline(airportDelays, keys) : await store.getOnline(airportDelays, keys, { at });
      const points = keys.map((k) => ({ origin: k.origin, ts: at }));
      const { mismatches, total } = compare(fromRows(got, points), await expectedAt(points));
      expect(mismatches, `at watermark + ${dt} ms: ${total} mismatches`).toEqual([]);
    }
    await store.close();
  });
});
