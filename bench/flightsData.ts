/**
 * Loads vega-datasets' flights-3m.parquet for the engine bench and the DuckDB
 * oracle test. DuckDB reads the file (fast, native) into an in-memory table;
 * rows are then streamed chunk by chunk into plain JS objects. Both the JS
 * rows and the DuckDB table therefore hold exactly the same events.
 */
import { fileURLToPath } from "node:url";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";

export const FLIGHTS_PARQUET = fileURLToPath(new URL("../node_modules/vega-datasets/data/flights-3m.parquet", import.meta.url));

/** One flight as the `flights` dataset takes it: `date` is epoch milliseconds (UTC). */
export interface FlightRow {
  origin: string;
  destination: string;
  delay: number;
  distance: number;
  date: number;
}

export interface FlightsSlice {
  /** A SQL condition over the parquet columns (origin, destination, delay, distance, date TIMESTAMP). */
  readonly where?: string;
  /** Keep only the first `limit` rows in (date, file row) order. */
  readonly limit?: number;
}

/**
 * Creates (or replaces) an in-memory DuckDB table `table` with columns
 * seq BIGINT (row position in the file), origin, destination VARCHAR,
 * delay, distance DOUBLE, ts BIGINT (epoch ms), holding the chosen slice of
 * the parquet file. Returns its row count.
 */
export async function createFlightsTable(conn: DuckDBConnection, table: string, slice: FlightsSlice = {}): Promise<number> {
  const where = slice.where === undefined ? "" : `WHERE ${slice.where}`;
  const limit = slice.limit === undefined ? "" : `LIMIT ${Math.floor(slice.limit)}`;
  const path = FLIGHTS_PARQUET.replaceAll("'", "''");
  await conn.run(`
    CREATE OR REPLACE TABLE ${table} AS
    SELECT file_row_number AS seq, origin, destination,
           delay::DOUBLE AS delay, distance::DOUBLE AS distance, epoch_ms(date) AS ts
    FROM read_parquet('${path}', file_row_number = true)
    ${where}
    ORDER BY date, file_row_number
    ${limit}`);
  const r = await conn.runAndReadAll(`SELECT count(*)::DOUBLE AS n FROM ${table}`);
  return Number(r.getRows()[0]?.[0] ?? 0);
}

/**
 * Streams a table made by createFlightsTable into row objects, in event-time
 * order (ts, then file position). Airport codes travel as integer ids into a
 * small dictionary (decoding 6M strings chunk by chunk costs more than the
 * rest of the load), so 3M rows also share a few hundred string instances.
 */
export async function readFlightsTable(conn: DuckDBConnection, table: string): Promise<FlightRow[]> {
  const codes = `${table}__codes`;
  await conn.run(`
    CREATE OR REPLACE TEMP TABLE ${codes} AS
    SELECT code, (row_number() OVER (ORDER BY code) - 1)::INTEGER AS id
    FROM (SELECT origin AS code FROM ${table} UNION SELECT destination FROM ${table})`);
  const names: string[] = [];
  for (const [code, id] of (await conn.runAndReadAll(`SELECT code, id FROM ${codes} ORDER BY id`)).getRows()) {
    if (typeof code !== "string" || id !== names.length) throw new Error(`flights: bad airport dictionary entry ${String(id)}: ${String(code)}`);
    names.push(code);
  }
  const result = await conn.stream(
    `SELECT o.id, d.id, f.delay, f.distance, f.ts::DOUBLE
     FROM ${table} f JOIN ${codes} o ON f.origin = o.code JOIN ${codes} d ON f.destination = d.code
     ORDER BY f.ts, f.seq`,
  );
  const rows: FlightRow[] = [];
  for (;;) {
    const chunk = await result.fetchChunk();
    if (chunk === null || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    const o = chunk.getColumnValues(0);
    const d = chunk.getColumnValues(1);
    const dl = chunk.getColumnValues(2);
    const di = chunk.getColumnValues(3);
    const ts = chunk.getColumnValues(4);
    for (let i = 0; i < n; i++) {
      rows.push({
        origin: name(names, o[i]),
        destination: name(names, d[i]),
        delay: num(dl[i], "delay"),
        distance: num(di[i], "distance"),
        date: num(ts[i], "date"),
      });
    }
  }
  return rows;
}

function num(x: unknown, what: string): number {
  if (typeof x !== "number") throw new Error(`flights: ${what} is not a number: ${String(x)}`);
  return x;
}

function name(names: readonly string[], id: unknown): string {
  const s = typeof id === "number" ? names[id] : undefined;
  if (s === undefined) throw new Error(`flights: unknown airport id ${String(id)}`);
  return s;
}

/** Loads the first `limit` flights (all 3M when omitted) by event time, as row objects. */
export async function loadFlights(limit?: number): Promise<FlightRow[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  try {
    await createFlightsTable(conn, "flights", limit === undefined ? {} : { limit });
    return await readFlightsTable(conn, "flights");
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
