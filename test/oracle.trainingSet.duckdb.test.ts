/**
 * DuckDB as an oracle for training sets (store.trainingSet) on real flights:
 * eight airports of very different traffic over one month (many ties at the
 * same minute, sparse keys), and a few thousand seeded entity rows that hit
 * event times exactly, 1 ms before and after events, times before a key's
 * first event, long before and after the slice, unknown keys and duplicates.
 *
 * Which value is "right" at an entity time t: a feature as of t, from events
 * with event time <= t. A sliding window decays between events, so its value
 * at t is NOT the value at the latest event <= t, which is what an ASOF join
 * returns. The oracle therefore uses two formulations:
 * - forever() windows (count, sum, avg, max, min over the key's whole
 *   history) do not decay: their value at t is the value at the latest event
 *   <= t. DuckDB builds the per-event history with window SQL and joins the
 *   entity rows to it with `ASOF LEFT JOIN ... ON origin = origin AND
 *   entity.ts >= history.ts`. The matched event time also gives the expected
 *   status and max age.
 * - the flights demo's sliding windows are computed by DuckDB as of t itself,
 *   by a range join over (t − w, t].
 * Counts, sums, mins and maxes must be equal; averages within 1e-9 relative.
 */
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFlightsTable, readFlightsTable, type FlightRow } from "../bench/flightsData.js";
import { airportDelays, FEATURES, flights, windowSql, zeroWhenEmpty } from "../bench/flightsPipeline.js";
import { avg, count, FeatureStore, forever, max, min, sum, type Row } from "../src/index.js";
import { mulberry32 } from "../src/sources/generator/generatorSource.js";

const AIRPORTS = ["ORD", "ATL", "SAN", "BNA", "ANC", "MRY", "OME", "CDV"];
const UNSEEN = ["LAX", "ZZZ"];
const ENTITIES = 4_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MAX_AGE_MS = 6 * HOUR;
const LOOKAHEAD_MS = DAY;
const AVG_REL_TOL = 1e-9;

const totals = flights
  .filter((f) => f.distance > 0)
  .groupBy("origin")
  .aggregate({
    n_ever: count({ window: forever() }),
    delay_sum_ever: sum("delay", { window: forever() }),
    delay_avg_ever: avg("delay", { window: forever() }),
    delay_max_ever: max("delay", { window: forever() }),
    delay_min_ever: min("delay", { window: forever() }),
  })
  .as("delay_totals");

/** The forever features with their SQL aggregate, in declaration order. */
const TOTALS = [
  { name: "n_ever", fn: "count", sql: "count(*)" },
  { name: "delay_sum_ever", fn: "sum", sql: "sum(delay)" },
  { name: "delay_avg_ever", fn: "avg", sql: "avg(delay)" },
  { name: "delay_max_ever", fn: "max", sql: "max(delay)" },
  { name: "delay_min_ever", fn: "min", sql: "min(delay)" },
] as const;

interface Entity {
  origin: string;
  /** Epoch ms, or the same instant as a Date or an ISO string (the output has epoch ms). */
  ts: number | Date | string;
  label: number;
}

let instance: DuckDBInstance;
let conn: DuckDBConnection;
let rows: FlightRow[];
let entities: Entity[];
let times: number[];

beforeAll(async () => {
  instance = await DuckDBInstance.create(":memory:");
  conn = await instance.connect();
  const n = await createFlightsTable(conn, "flights", {
    where: `origin IN (${AIRPORTS.map((a) => `'${a}'`).join(", ")}) AND date < TIMESTAMP '2001-02-01'`,
  });
  expect(n).toBeGreaterThan(40_000);
  // A few non-positive distances, so that the tables' filter drops rows on both sides.
  await conn.run(`UPDATE flights SET distance = 0 WHERE seq % 37 = 0`);
  rows = await readFlightsTable(conn, "flights");
  // One row per (origin, event time): RANGE frames include the peers (ties) at the same ms.
  await conn.run(`
    CREATE TABLE history AS
    SELECT DISTINCT origin, ts, ${TOTALS.map((f) => `(${f.sql} OVER w)::DOUBLE AS ${f.name}`).join(", ")}
    FROM flights WHERE distance > 0
    WINDOW w AS (PARTITION BY origin ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`);
  // The sliding windows' per-event history, only to show that ASOF would be wrong for them.
  await conn.run(`CREATE TABLE sliding_history AS SELECT DISTINCT * FROM (${windowSql("flights")})`);
  ({ entities, times } = makeEntities(rows));
  await conn.run(`CREATE TABLE entities (id INTEGER, origin VARCHAR, ts BIGINT, ts_ahead BIGINT)`);
  const app = await conn.createAppender("entities");
  entities.forEach((e, i) => {
    app.appendInteger(i);
    app.appendVarchar(e.origin);
    app.appendBigInt(BigInt(times[i] as number));
    app.appendBigInt(BigInt((times[i] as number) + LOOKAHEAD_MS));
    app.endRow();
  });
  app.closeSync();
}, 60_000);

afterAll(() => {
  conn.closeSync();
  instance.closeSync();
});

/** Seeded entity rows over the slice's events; `times` holds each row's time in epoch ms. */
function makeEntities(events: readonly FlightRow[]): { entities: Entity[]; times: number[] } {
  const rand = mulberry32(20010131);
  const kept = events.filter((r) => r.distance > 0);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)] as T;
  const firstOf = new Map<string, number>();
  for (const r of kept) if (!firstOf.has(r.origin)) firstOf.set(r.origin, r.date);
  const first = (kept[0] as FlightRow).date;
  const last = (kept[kept.length - 1] as FlightRow).date;
  const out: Entity[] = [];
  const ms: number[] = [];
  for (let i = 0; i < ENTITIES; i++) {
    const mode = Math.floor(rand() * 10);
    if (mode === 9 && out.length > 0) {
      // A duplicate of an earlier row: the same object again, or an equal copy.
      const j = Math.floor(rand() * out.length);
      const e = out[j] as Entity;
      out.push(rand() < 0.5 ? e : { ...e });
      ms.push(ms[j] as number);
      continue;
    }
    const ev = pick(kept);
    let origin = ev.origin;
    let t: number;
    switch (mode) {
      case 0: // exactly at an event time (ties included)
      case 1:
        t = ev.date;
        break;
      case 2: // 1 ms before an event: it must not count
        t = ev.date - 1;
        break;
      case 3: // 1 ms after an event
        t = ev.date + 1;
        break;
      case 4: // before the key's first event (1 ms before it, or up to 3 days)
        t = (firstOf.get(origin) as number) - (rand() < 0.3 ? 1 : 1 + Math.floor(rand() * 3 * DAY));
        break;
      case 5: // between events, anywhere in the slice
        t = first + Math.floor(rand() * (last - first));
        break;
      case 6: // after the last event, or far outside the slice (times beyond 2^32 ms apart)
        t = rand() < 0.8 ? last + Math.floor(rand() * 3 * DAY) : first + (rand() < 0.5 ? -400 : 400) * DAY;
        break;
      case 7: // a key the table never saw
        origin = pick(UNSEEN);
        t = first + Math.floor(rand() * (last - first));
        break;
      default: // an airport of the slice at an arbitrary time
        origin = pick(AIRPORTS);
        t = first - DAY + Math.floor(rand() * (last - first + 2 * DAY));
        break;
    }
    const form = rand();
    const ts = form < 0.05 ? new Date(t) : form < 0.1 ? new Date(t).toISOString() : t;
    const label = Math.floor(rand() * 2);
    // Some rows list their fields in another order (rows of other shapes are copied one by one).
    out.push(rand() < 0.05 ? { label, ts, origin } : { origin, ts, label });
    ms.push(t);
  }
  return { entities: out, times: ms };
}

/** Rows of a query as arrays of JS values, NaN for SQL NULL in the numeric columns from `from` on. */
async function query(sql: string, from: number): Promise<unknown[][]> {
  const r = await conn.runAndReadAll(sql);
  return r.getRowsJS().map((row) => row.map((v, c) => (c < from ? v : v === null ? Number.NaN : Number(v))));
}

/** A value of a training-set row as the comparison sees it: NaN for null. */
function num(row: Row, column: string, i: number): number {
  const v = row[column];
  if (v === null) return Number.NaN;
  if (typeof v !== "number") throw new Error(`row ${i}: ${column} is ${JSON.stringify(v)}`);
  return v;
}

function same(fn: string, got: number, want: number): boolean {
  if (Number.isNaN(got) || Number.isNaN(want)) return Number.isNaN(got) && Number.isNaN(want);
  if (fn !== "avg") return got === want;
  return Math.abs(got - want) <= AVG_REL_TOL * Math.max(Math.abs(got), Math.abs(want));
}

describe("DuckDB oracle: store.trainingSet over real flights", () => {
  it("the entity rows hit ties, misses by 1 ms, times before any event, unknown keys and duplicates", async () => {
    const [counts] = await query(
      `SELECT
         (SELECT count(*) FROM entities e WHERE EXISTS (SELECT 1 FROM history h WHERE h.origin = e.origin AND h.ts = e.ts)),
         (SELECT count(*) FROM entities e WHERE EXISTS (SELECT 1 FROM history h WHERE h.origin = e.origin AND h.ts = e.ts + 1)),
         (SELECT count(*) FROM entities e WHERE NOT EXISTS (SELECT 1 FROM history h WHERE h.origin = e.origin AND h.ts <= e.ts)),
         (SELECT count(*) FROM entities WHERE origin NOT IN (SELECT origin FROM history)),
         (SELECT count(*) FROM (SELECT DISTINCT origin, ts FROM entities)),
         (SELECT count(*) FROM (SELECT origin, ts FROM flights WHERE distance > 0 GROUP BY ALL HAVING count(*) > 1))`,
      0,
    );
    const [atEvent, beforeEvent, noEvent, unknown, distinct, tiedTimes] = (counts ?? []).map(Number);
    expect(Number(atEvent)).toBeGreaterThan(500);
    expect(Number(beforeEvent)).toBeGreaterThan(300);
    expect(Number(noEvent)).toBeGreaterThan(300);
    expect(Number(unknown)).toBeGreaterThan(200);
    expect(ENTITIES - Number(distinct)).toBeGreaterThan(300);
    expect(Number(tiedTimes)).toBeGreaterThan(1_000);
  });

  it("every row and feature equals DuckDB: forever windows by ASOF JOIN, sliding windows as of t, statuses, max age and labels", async () => {
    const store = await FeatureStore.open();
    await store.apply([flights, totals, airportDelays]);
    await store.materializeOffline({ flights: rows });
    const got = await store.trainingSet({
      entities,
      features: ["delay_totals:*", { feature: "delay_totals:n_ever", as: "n" }, "airport_delays:*"],
      maxAge: { delay_totals: `${MAX_AGE_MS / HOUR}h` },
      labels: [{ feature: "delay_totals:n_ever", lookahead: `${LOOKAHEAD_MS / HOUR}h`, as: "n_next_day" }, { column: "label" }],
      statuses: true,
    });
    await store.close();
    expect(got).toHaveLength(ENTITIES);

    const totalsCols = TOTALS.map((f) => `h.${f.name}`).join(", ");
    const asof = await query(`SELECT e.id, h.ts, ${totalsCols} FROM entities e ASOF LEFT JOIN history h ON e.origin = h.origin AND e.ts >= h.ts ORDER BY e.id`, 1);
    const ahead = await query(`SELECT e.id, h.n_ever FROM entities e ASOF LEFT JOIN history h ON e.origin = h.origin AND e.ts_ahead >= h.ts ORDER BY e.id`, 1);
    const maxW = Math.max(...FEATURES.map((f) => f.windowMs));
    const sliding = await query(
      `SELECT e.id, ${FEATURES.map((f) => `(${f.fn}(${f.field === undefined ? "f.ts" : `f.${f.field}`}) FILTER (WHERE f.ts > e.ts - ${f.windowMs}))::DOUBLE`).join(", ")}
       FROM entities e LEFT JOIN flights f ON f.origin = e.origin AND f.distance > 0 AND f.ts <= e.ts AND f.ts > e.ts - ${maxW}
       GROUP BY e.id ORDER BY e.id`,
      1,
    );
    const slidingAsof = await query(
      `SELECT e.id, ${FEATURES.map((f) => `h.${f.name}`).join(", ")} FROM entities e ASOF LEFT JOIN sliding_history h ON e.origin = h.origin AND e.ts >= h.ts ORDER BY e.id`,
      1,
    );
    expect([asof.length, ahead.length, sliding.length, slidingAsof.length]).toEqual([ENTITIES, ENTITIES, ENTITIES, ENTITIES]);

    const mismatches: string[] = [];
    let total = 0;
    const note = (i: number, what: string, g: unknown, w: unknown): void => {
      total++;
      if (mismatches.length < 25) mismatches.push(`entity ${i} (${(entities[i] as Entity).origin}, ${times[i]}) ${what}: freshet ${String(g)}, duckdb ${String(w)}`);
    };
    let outsideMaxAge = 0;
    let decayed = 0;
    got.forEach((row, i) => {
      const e = entities[i] as Entity;
      if (row["origin"] !== e.origin || row["ts"] !== times[i] || row["label"] !== e.label) note(i, "entity fields", JSON.stringify(row), JSON.stringify(e));
      const a = asof[i] as unknown[];
      const eventTime = a[1] as number;
      // Forever windows: the ASOF row, withheld past the max age; an empty history reads 0 for count and sum.
      const status = Number.isNaN(eventTime) ? "NOT_FOUND" : (times[i] as number) - eventTime > MAX_AGE_MS ? "OUTSIDE_MAX_AGE" : "PRESENT";
      if (status === "OUTSIDE_MAX_AGE") outsideMaxAge++;
      TOTALS.forEach((f, k) => {
        const raw = a[2 + k] as number;
        const want = status === "OUTSIDE_MAX_AGE" ? Number.NaN : status === "NOT_FOUND" && (f.fn === "count" || f.fn === "sum") ? 0 : raw;
        if (!same(f.fn, num(row, f.name, i), want)) note(i, f.name, row[f.name], want);
        if (row[`${f.name}__status`] !== status) note(i, `${f.name}__status`, row[`${f.name}__status`], status);
      });
      if (row["n"] !== row["n_ever"] || row["n__status"] !== status) note(i, "n (n_ever renamed)", row["n"], row["n_ever"]);
      // Sliding windows: as of t itself; a key with events, but none in the window, is PRESENT (count 0) or NULL_VALUE.
      let differsFromAsof = false;
      FEATURES.forEach((f, k) => {
        const atEvent = (slidingAsof[i] as unknown[])[1 + k] as number;
        const raw = (sliding[i] as unknown[])[1 + k] as number;
        const want = Number.isNaN(raw) && zeroWhenEmpty(f) ? 0 : raw;
        if (!same(f.fn, num(row, f.name, i), want)) note(i, f.name, row[f.name], want);
        const wantStatus = Number.isNaN(eventTime) ? "NOT_FOUND" : Number.isNaN(want) ? "NULL_VALUE" : "PRESENT";
        if (row[`${f.name}__status`] !== wantStatus) note(i, `${f.name}__status`, row[`${f.name}__status`], wantStatus);
        if (!Number.isNaN(atEvent) && !same(f.fn, want, atEvent)) differsFromAsof = true;
      });
      if (differsFromAsof) decayed++;
      // The label: n_ever a day later, whatever the max age.
      const later = (ahead[i] as unknown[])[1] as number;
      if (row["n_next_day"] !== (Number.isNaN(later) ? 0 : later)) note(i, "n_next_day", row["n_next_day"], later);
    });
    expect(mismatches, `${total} mismatches`).toEqual([]);
    // The rows did exercise the max age; and for many of them a sliding window
    // decayed after the latest event, so ASOF's value (as of that event) would be wrong.
    expect(outsideMaxAge).toBeGreaterThan(100);
    expect(decayed).toBeGreaterThan(500);
  });
});
