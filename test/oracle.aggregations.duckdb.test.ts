/**
 * DuckDB as an oracle for the rich aggregations on real flights (six airports
 * of very different traffic, one month, many ties at the same minute): the
 * per-event history from materializeOffline is compared, row by row, with
 * DuckDB window SQL over the same rows. `RANGE BETWEEN (w − 1) PRECEDING AND
 * CURRENT ROW` over integer milliseconds is exactly (t − w, t], peers
 * included; ties are ordered by file position (`seq`), as Freshet orders them.
 */
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFlightsTable, readFlightsTable, type FlightRow } from "../bench/flightsData.js";
import { flights } from "../bench/flightsPipeline.js";
import {
  dataset,
  t,
  approxDistinct,
  approxQuantile,
  avg,
  count,
  distinctCount,
  FeatureStore,
  first,
  forever,
  hopping,
  last,
  lastK,
  max,
  stddev,
  session,
  sum,
  tumbling,
  variance,
  type AnyTable,
  type EmittedRows,
} from "../src/index.js";

const AIRPORTS = ["ORD", "SAN", "BNA", "ANC", "MRY", "OME"];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const rich = flights
  .groupBy("origin")
  .aggregate({
    delay_sd_1d: stddev("delay", { window: "1d" }),
    delay_var_7d: variance("delay", { window: "7d" }),
    first_dest_1h: first("destination", { window: "1h" }),
    last_delay_1d: last("delay", { window: "1d" }),
    last3_dest_1d: lastK("destination", { window: "1d", k: 3 }),
    dests_1d: distinctCount("destination", { window: "1d" }),
    dests_approx_7d: approxDistinct("destination", { window: "7d" }),
    delay_p90_1d: approxQuantile("delay", { window: "1d", q: 0.9, accuracy: 0.01 }),
  })
  .as("rich_delays");

const frame = (w: number) => `OVER (PARTITION BY origin ORDER BY ts RANGE BETWEEN ${w - 1} PRECEDING AND CURRENT ROW)`;
const SQL = `
  SELECT DISTINCT origin, ts,
    stddev_pop(delay) ${frame(DAY)} AS delay_sd_1d,
    var_pop(delay) ${frame(7 * DAY)} AS delay_var_7d,
    arg_min(destination, seq) ${frame(HOUR)} AS first_dest_1h,
    arg_max(delay, seq) ${frame(DAY)} AS last_delay_1d,
    list(destination ORDER BY seq DESC) ${frame(DAY)}[1:3] AS last3_dest_1d,
    count(DISTINCT destination) ${frame(DAY)} AS dests_1d,
    count(DISTINCT destination) ${frame(7 * DAY)} AS dests_7d,
    quantile_disc(delay, 0.9) ${frame(DAY)} AS delay_p90_1d
  FROM flights WHERE distance > 0
  ORDER BY origin, ts`;

let instance: DuckDBInstance;
let conn: DuckDBConnection;
let rows: FlightRow[];

beforeAll(async () => {
  instance = await DuckDBInstance.create(":memory:");
  conn = await instance.connect();
  const n = await createFlightsTable(conn, "flights", {
    where: `origin IN (${AIRPORTS.map((a) => `'${a}'`).join(", ")}) AND date < TIMESTAMP '2001-02-01'`,
  });
  expect(n).toBeGreaterThan(20_000);
  rows = await readFlightsTable(conn, "flights");
}, 60_000);

afterAll(() => {
  conn.closeSync();
  instance.closeSync();
});

/**
 * Every history row of `table` from materializeOffline of `inputs` (default:
 * the flights), sorted by (origin, ts), values in declaration order.
 */
async function history(
  table: AnyTable,
  sources: Parameters<FeatureStore["apply"]>[0] = [flights],
  inputs: Record<string, readonly unknown[]> = { flights: rows },
): Promise<Array<{ origin: string; ts: number; v: unknown[] }>> {
  const store = await FeatureStore.open();
  await store.apply([...sources, table]);
  const got: Array<{ origin: string; ts: number; v: unknown[] }> = [];
  await store.materializeOffline(
    inputs,
    {
      onTableRows: (_t, r: EmittedRows) => {
        for (let i = 0; i < r.length; i++) got.push({ origin: String(r.keys[i]?.[0]), ts: r.ts[i] as number, v: r.values.map((c) => c[i]) });
      },
    },
  );
  await store.close();
  return got.sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.ts - b.ts));
}

describe("window kinds against DuckDB window SQL (flights)", () => {
  it("tumbling, hopping and forever windows equal their SQL frames on every history row", async () => {
    const table = flights
      .groupBy("origin")
      .aggregate({
        n_day: count({ window: tumbling("1d") }),
        delay_sum_day: sum("delay", { window: tumbling("1d") }),
        delay_avg_6h_by_1h: avg("delay", { window: hopping("6h", "1h") }),
        delay_max_6h_by_1h: max("delay", { window: hopping("6h", "1h") }),
        n_ever: count({ window: forever() }),
        delay_sum_ever: sum("delay", { window: forever() }),
        dests_ever: distinctCount("destination", { window: forever() }),
      })
      .as("window_kinds");
    const got = await history(table);
    // Tumbling: the day so far. Hopping 6h every 1h: from ⌊t/1h⌋·1h − 5h, i.e. (t mod 1h) + 5h back.
    const hop = `OVER (PARTITION BY origin ORDER BY ts RANGE BETWEEN (ts % ${HOUR}) + ${5 * HOUR} PRECEDING AND CURRENT ROW)`;
    const day = `OVER (PARTITION BY origin, ts // ${DAY} ORDER BY ts RANGE UNBOUNDED PRECEDING)`;
    const ever = `OVER (PARTITION BY origin ORDER BY ts RANGE UNBOUNDED PRECEDING)`;
    const want = (
      await conn.runAndReadAll(`
        SELECT DISTINCT origin, ts,
          count(*) ${day}, sum(delay) ${day}, avg(delay) ${hop}, max(delay) ${hop},
          count(*) ${ever}, sum(delay) ${ever}, count(DISTINCT destination) ${ever}
        FROM flights WHERE distance > 0 ORDER BY origin, ts`)
    ).getRowsJS();
    expect(got.length).toBe(want.length);
    const bad: string[] = [];
    for (let i = 0; i < got.length; i++) {
      const g = got[i] as { origin: string; ts: number; v: unknown[] };
      const w = (want[i] as unknown[]).map((x) => (typeof x === "bigint" ? Number(x) : x));
      const [nDay, sumDay, avgHop, maxHop, nEver, sumEver, destsEver] = g.v as number[];
      const ok =
        g.origin === w[0] &&
        g.ts === w[1] &&
        nDay === w[2] &&
        sumDay === w[3] &&
        Math.abs((avgHop as number) - (w[4] as number)) <= 1e-9 * Math.max(1, Math.abs(w[4] as number)) &&
        maxHop === w[5] &&
        nEver === w[6] &&
        sumEver === w[7] &&
        destsEver === w[8];
      if (!ok && bad.length < 10) bad.push(`${g.origin} ${new Date(g.ts).toISOString()}: ${JSON.stringify(g.v)} vs ${JSON.stringify(w.slice(2))}`);
    }
    expect(bad).toEqual([]);
  }, 120_000);
});

describe("lookup join against DuckDB ASOF JOIN (flights)", () => {
  it("each flight joined with its airport's status row as of departure, then windowed, equals ASOF JOIN + window SQL", async () => {
    // A keyed dataset derived from the same slice: one status row per airport and day, at 06:00 UTC.
    await conn.run(`CREATE OR REPLACE TABLE status AS
      SELECT DISTINCT origin, (ts // ${DAY}) * ${DAY} + ${6 * HOUR} AS ts, ((ts // ${DAY}) * 7 + length(origin) * 3) % 5 AS level FROM flights`);
    const statusRows = (await conn.runAndReadAll(`SELECT origin, ts, level FROM status ORDER BY ts, origin`)).getRowsJS().map((r) => ({
      origin: String(r[0]),
      ts: Number(r[1]),
      level: Number(r[2]),
    }));
    const status = dataset("status", { origin: t.string(), ts: t.timestamp(), level: t.int() }, { timestamp: "ts", key: ["origin"] });
    const joined = flights
      .filter((f) => f.distance > 0)
      .join(status, { on: ["origin"], how: "left" })
      .groupBy("origin")
      .aggregate({ n_1d: count({ window: "1d" }), level_sum_1d: sum("level", { window: "1d" }), level_avg_1d: avg("level", { window: "1d" }) })
      .as("joined_status");
    const got = await history(joined, [flights, status], { status: statusRows, flights: rows });
    const w = `OVER (PARTITION BY origin ORDER BY ts RANGE BETWEEN ${DAY - 1} PRECEDING AND CURRENT ROW)`;
    const want = (
      await conn.runAndReadAll(`
        WITH j AS (SELECT f.origin, f.ts, s.level FROM flights f ASOF LEFT JOIN status s ON f.origin = s.origin AND f.ts >= s.ts WHERE f.distance > 0)
        SELECT DISTINCT origin, ts, count(*) ${w}, sum(level) ${w}, avg(level) ${w} FROM j ORDER BY origin, ts`)
    ).getRowsJS();
    expect(got.length).toBe(want.length);
    const bad: string[] = [];
    let matched = 0;
    for (let i = 0; i < got.length; i++) {
      const g = got[i] as { origin: string; ts: number; v: unknown[] };
      const r = (want[i] as unknown[]).map((x) => (typeof x === "bigint" ? Number(x) : x));
      const sumWant = r[3] === null ? 0 : Number(r[3]);
      const avgWant = r[4] === null ? Number.NaN : Number(r[4]);
      const avgGot = g.v[2] as number;
      const ok =
        g.origin === r[0] && g.ts === r[1] && g.v[0] === r[2] && g.v[1] === sumWant && (Number.isNaN(avgWant) ? Number.isNaN(avgGot) : Math.abs(avgGot - avgWant) <= 1e-9 * Math.max(1, avgWant));
      if (!ok && bad.length < 10) bad.push(`${g.origin} ${new Date(g.ts).toISOString()}: ${JSON.stringify(g.v)} vs ${JSON.stringify(r.slice(2))}`);
      if (r[3] !== null) matched++;
    }
    expect(bad).toEqual([]);
    expect(matched).toBeGreaterThan(got.length / 2); // most flights found a status row
  }, 120_000);
});

describe("union and interval join against DuckDB (flights)", () => {
  it("a union of two halves of the flights equals window SQL over all of them", async () => {
    const schema = { origin: t.string(), destination: t.string(), delay: t.float(), distance: t.float(), date: t.timestamp() };
    const even = dataset("flights_even", schema, { timestamp: "date" });
    const odd = dataset("flights_odd", schema, { timestamp: "date" });
    const both = even
      .union(odd)
      .filter((f) => f.distance > 0)
      .groupBy("origin")
      .aggregate({ n_1d: count({ window: "1d" }), delay_sum_1d: sum("delay", { window: "1d" }), delay_max_1d: max("delay", { window: "1d" }) })
      .as("both_halves");
    const got = await history(both, [even, odd], { flights_even: rows.filter((_, i) => i % 2 === 0), flights_odd: rows.filter((_, i) => i % 2 === 1) });
    const w = `OVER (PARTITION BY origin ORDER BY ts RANGE BETWEEN ${DAY - 1} PRECEDING AND CURRENT ROW)`;
    const want = (await conn.runAndReadAll(`SELECT DISTINCT origin, ts, count(*) ${w}, sum(delay) ${w}, max(delay) ${w} FROM flights WHERE distance > 0 ORDER BY origin, ts`)).getRowsJS();
    expect(got.length).toBe(want.length);
    const bad: string[] = [];
    for (let i = 0; i < got.length; i++) {
      const g = got[i] as { origin: string; ts: number; v: unknown[] };
      const r = (want[i] as unknown[]).map((x) => (typeof x === "bigint" ? Number(x) : x));
      if (g.origin !== r[0] || g.ts !== r[1] || g.v[0] !== r[2] || g.v[1] !== r[3] || g.v[2] !== r[4]) {
        if (bad.length < 10) bad.push(`${g.origin} ${new Date(g.ts).toISOString()}: ${JSON.stringify(g.v)} vs ${JSON.stringify(r.slice(2))}`);
      }
    }
    expect(bad).toEqual([]);
  }, 120_000);

  it("an interval join of departures with the arrivals of the hour before equals a SQL range join", async () => {
    const pairs = flights
      .intervalJoin(flights, { on: ["origin"], otherOn: ["destination"], lower: "1h", upper: 0, prefix: "in_" })
      .groupBy("origin")
      .aggregate({ pairs_1d: count({ window: "1d" }), in_delay_sum_1d: sum("in_delay", { window: "1d" }) })
      .as("arrivals_before_departures");
    const got = await history(pairs, [flights], { flights: rows });
    const w = `OVER (PARTITION BY origin ORDER BY ts RANGE BETWEEN ${DAY - 1} PRECEDING AND CURRENT ROW)`;
    const want = (
      await conn.runAndReadAll(`
        WITH p AS (SELECT l.origin, greatest(l.ts, r.ts) AS ts, r.delay AS in_delay
                   FROM flights l JOIN flights r ON l.origin = r.destination AND r.ts BETWEEN l.ts - ${HOUR} AND l.ts)
        SELECT DISTINCT origin, ts, count(*) ${w}, sum(in_delay) ${w} FROM p ORDER BY origin, ts`)
    ).getRowsJS();
    expect(want.length).toBeGreaterThan(1000);
    expect(got.length).toBe(want.length);
    const bad: string[] = [];
    for (let i = 0; i < got.length; i++) {
      const g = got[i] as { origin: string; ts: number; v: unknown[] };
      const r = (want[i] as unknown[]).map((x) => (typeof x === "bigint" ? Number(x) : x));
      if (g.origin !== r[0] || g.ts !== r[1] || g.v[0] !== r[2] || g.v[1] !== r[3]) {
        if (bad.length < 10) bad.push(`${g.origin} ${new Date(g.ts).toISOString()}: ${JSON.stringify(g.v)} vs ${JSON.stringify(r.slice(2))}`);
      }
    }
    expect(bad).toEqual([]);
  }, 120_000);
});

describe("session windows against DuckDB (flights)", () => {
  it("a session is a run of flights at most 20 minutes apart: counts, sums and last values per history row", async () => {
    const GAP = 20 * 60_000;
    const table = flights
      .groupBy("origin")
      .aggregate({
        n_sess: count({ window: session("20m") }),
        delay_sum_sess: sum("delay", { window: session("20m") }),
        last_dest_sess: last("destination", { window: session("20m") }),
      })
      .as("sessions");
    const got = await history(table);
    const w = `OVER (PARTITION BY origin, sid ORDER BY ts RANGE UNBOUNDED PRECEDING)`;
    const want = (
      await conn.runAndReadAll(`
        WITH f AS (SELECT *, ts - lag(ts) OVER (PARTITION BY origin ORDER BY ts, seq) AS d FROM flights WHERE distance > 0),
             s AS (SELECT *, sum(CASE WHEN d > ${GAP} THEN 1 ELSE 0 END) OVER (PARTITION BY origin ORDER BY ts, seq ROWS UNBOUNDED PRECEDING) AS sid FROM f)
        SELECT DISTINCT origin, ts, count(*) ${w}, sum(delay) ${w}, arg_max(destination, seq) ${w}
        FROM s ORDER BY origin, ts`)
    ).getRowsJS();
    expect(got.length).toBe(want.length);
    const bad: string[] = [];
    let multi = 0;
    for (let i = 0; i < got.length; i++) {
      const g = got[i] as { origin: string; ts: number; v: unknown[] };
      const r = (want[i] as unknown[]).map((x) => (typeof x === "bigint" ? Number(x) : x));
      if (g.origin !== r[0] || g.ts !== r[1] || g.v[0] !== r[2] || g.v[1] !== r[3] || g.v[2] !== r[4]) {
        if (bad.length < 10) bad.push(`${g.origin} ${new Date(g.ts).toISOString()}: ${JSON.stringify(g.v)} vs ${JSON.stringify(r.slice(2))}`);
      }
      if ((g.v[0] as number) > 1) multi++;
    }
    expect(bad).toEqual([]);
    expect(multi).toBeGreaterThan(1000); // sessions of more than one flight do occur
  }, 120_000);
});

describe("rich aggregations against DuckDB window SQL (flights)", () => {
  it("every history row equals DuckDB's, within the sketches' stated error", async () => {
    const got = await history(rich);
    const want = (await conn.runAndReadAll(SQL)).getRowsJS();
    expect(got.length).toBe(want.length);

    const bad: string[] = [];
    const check = (ok: boolean, what: string) => {
      if (!ok && bad.length < 20) bad.push(what);
    };
    const close = (a: unknown, b: unknown, rel: number) =>
      (b === null && (a === null || Number.isNaN(a))) || (typeof a === "number" && typeof b === "number" && Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)));
    let approxErr = 0;
    for (let i = 0; i < got.length; i++) {
      const g = got[i] as { origin: string; ts: number; v: unknown[] };
      const w = want[i] as unknown[];
      const at = `${g.origin} ${new Date(g.ts).toISOString()}`;
      check(g.origin === w[0] && g.ts === Number(w[1]), `row ${i}: ${at} vs ${String(w[0])} ${String(w[1])}`);
      const [sd, vr, firstDest, lastDelay, last3, dests, destsApprox, p90] = g.v;
      check(close(sd, w[2], 1e-9), `${at} stddev ${String(sd)} vs ${String(w[2])}`);
      check(close(vr, w[3], 1e-9), `${at} variance ${String(vr)} vs ${String(w[3])}`);
      check(firstDest === w[4], `${at} first ${String(firstDest)} vs ${String(w[4])}`);
      check(lastDelay === w[5], `${at} last ${String(lastDelay)} vs ${String(w[5])}`);
      check(JSON.stringify(last3) === JSON.stringify(w[6]), `${at} lastK ${JSON.stringify(last3)} vs ${JSON.stringify(w[6])}`);
      check(dests === Number(w[7]), `${at} distinctCount ${String(dests)} vs ${String(w[7])}`);
      const exact7d = Number(w[8]);
      // HyperLogLog, 1024 registers: standard error 3.25%; below a few hundred
      // values linear counting is near exact, off by one where two values share a register.
      const err = Math.abs((destsApprox as number) - exact7d);
      check(err <= Math.max(1, 4 * 0.0325 * exact7d), `${at} approxDistinct ${String(destsApprox)} vs ${exact7d}`);
      approxErr = Math.max(approxErr, err / exact7d);
      // DDSketch: within 1% of the exact nearest-rank quantile.
      const exactP90 = Number(w[9]);
      check(Math.abs((p90 as number) - exactP90) <= 0.01 * Math.abs(exactP90) + 1e-9, `${at} p90 ${String(p90)} vs ${exactP90}`);
    }
    expect(bad).toEqual([]);
    expect(approxErr).toBeGreaterThan(0); // the sketch does estimate (an exact count would hide a mix-up)
  }, 120_000);
});
