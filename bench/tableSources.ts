/**
 * Table sources bench: N rows in a PostgreSQL table and in a MariaDB table,
 * read through postgresTableSource / mysqlTableSource by (updated_at, id) (keyset queries of
 * `--batch` rows, as a job reads them: next(batch, 0) until drained), beside
 * a plain streaming `SELECT ... ORDER BY updated_at, id` with the same driver
 * in the same run (porsager's cursor; mysql2's row stream).
 *
 *   npx tsx bench/tableSources.ts                    # 200k rows, batch 10k, 3 runs
 *   npx tsx bench/tableSources.ts --rows=50000 --batch=5000 --runs=5
 *
 * A third column reads by the primary key alone, for comparison: InnoDB keeps
 * rows in primary-key order, so a keyset over a secondary index costs a
 * primary-key lookup per row there, which a scan-and-sort does not.
 *
 * Rows: id (bigint primary key), updated_at (three rows per millisecond, so
 * the tie-breaker matters), user (text), amount (decimal), with an index on
 * (updated_at, id). Both sides hand out row objects with the same four values
 * (the source's timestamps as Dates, decimals as numbers). Sides alternate
 * within a run, after a full GC; the figure is the median of the runs.
 * The tables are dropped at the end.
 */
import { createConnection as createStreamingConnection, type RowDataPacket } from "mysql2";
import { createConnection, type Connection } from "mysql2/promise";
import postgres from "postgres";
import { mysqlTableSource } from "../src/sources/sql/mysqlTableSource.js";
import { postgresTableSource } from "../src/sources/sql/postgresTableSource.js";
import type { StreamSource } from "../src/sources/stream/streamSource.js";
import { fullGc, numberArg, median } from "./benchArgs.js";

const ROWS = numberArg("rows") ?? 200_000;
const BATCH = numberArg("batch") ?? 10_000;
const RUNS = numberArg("runs") ?? 3;
const PG_URL = process.env.FRESHET_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const MY_URL = process.env.FRESHET_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";
const TABLE = `freshet_bench_tsrc_${process.pid}`;
const T0 = Date.UTC(2024, 0, 1);

/** Rows read and a check value (sum of ids), so both sides are seen to read the same rows. */
interface Read {
  readonly rows: number;
  readonly idSum: number;
}

async function drain(source: StreamSource): Promise<Read> {
  await source.open(undefined);
  let rows = 0;
  let idSum = 0;
  try {
    for (;;) {
      const b = await source.next(BATCH, 0);
      if (b.rows.length === 0) break;
      rows += b.rows.length;
      for (const r of b.rows) idSum += (r as { id: number }).id;
    }
  } finally {
    await source.close();
  }
  return { rows, idSum };
}

async function timed(f: () => Promise<Read>): Promise<{ ms: number; read: Read }> {
  fullGc();
  await new Promise((r) => setTimeout(r, 100));
  const t0 = performance.now();
  const read = await f();
  return { ms: performance.now() - t0, read };
}


interface Side {
  readonly name: string;
  readonly baseline: () => Promise<Read>;
  /** The source by (updated_at, id), the case it is for. */
  readonly source: () => Promise<Read>;
  /** The source by the primary key alone, for comparison (InnoDB reads it without a secondary-index lookup per row). */
  readonly byId: () => Promise<Read>;
}

async function postgresSide(): Promise<{ side: Side; drop: () => Promise<void> }> {
  const sql = postgres(PG_URL, { max: 1, onnotice: () => undefined, types: { numeric: { to: 1700, from: [1700], serialize: (x: unknown) => String(x), parse: (x: string) => Number(x) } } });
  await sql.unsafe(`DROP TABLE IF EXISTS ${TABLE}`);
  await sql.unsafe(`CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, "user" text NOT NULL, amount numeric(12, 2) NOT NULL)`);
  await sql.unsafe(
    `INSERT INTO ${TABLE} SELECT i, to_timestamp(${T0 / 1000} + (i / 3) / 1000.0), 'u' || (i % 1000), (i % 10000) / 100.0 FROM generate_series(0, ${ROWS - 1}) AS i`,
  );
  await sql.unsafe(`CREATE INDEX ON ${TABLE} (updated_at, id)`);
  await sql.unsafe(`ANALYZE ${TABLE}`);
  const side: Side = {
    name: "PostgreSQL",
    async baseline() {
      let rows = 0;
      let idSum = 0;
      // Porsager parses int8 as text by default; the source hands out numbers, so the baseline converts too.
      for await (const batch of sql.unsafe(`SELECT id, updated_at, "user", amount FROM ${TABLE} ORDER BY updated_at, id`).cursor(BATCH)) {
        rows += batch.length;
        for (const r of batch) idSum += Number(r.id);
      }
      return { rows, idSum };
    },
    source: () => drain(postgresTableSource({ url: PG_URL, table: TABLE, cursor: ["updated_at", "id"], batch: BATCH })),
    byId: () => drain(postgresTableSource({ url: PG_URL, table: TABLE, cursor: "id", batch: BATCH })),
  };
  return {
    side,
    async drop() {
      await sql.unsafe(`DROP TABLE IF EXISTS ${TABLE}`);
      await sql.end();
    },
  };
}

async function mysqlSide(): Promise<{ side: Side; drop: () => Promise<void> }> {
  const conn: Connection = await createConnection({ uri: MY_URL, timezone: "Z", supportBigNumbers: true, decimalNumbers: true });
  await conn.query("SET time_zone = '+00:00'");
  await conn.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await conn.query(`CREATE TABLE ${TABLE} (id BIGINT PRIMARY KEY, updated_at DATETIME(3) NOT NULL, user VARCHAR(10) NOT NULL, amount DECIMAL(12, 2) NOT NULL, INDEX (updated_at, id))`);
  for (let from = 0; from < ROWS; from += 10_000) {
    const values: Array<[number, Date, string, number]> = [];
    for (let i = from; i < Math.min(ROWS, from + 10_000); i++) values.push([i, new Date(T0 + Math.floor(i / 3)), `u${i % 1000}`, (i % 10_000) / 100]);
    await conn.query(`INSERT INTO ${TABLE} (id, updated_at, user, amount) VALUES ?`, [values]);
  }
  await conn.query(`ANALYZE TABLE ${TABLE}`);
  // The baseline streams rows, which mysql2 offers on its callback connection.
  const streaming = createStreamingConnection({ uri: MY_URL, timezone: "Z", supportBigNumbers: true, decimalNumbers: true });
  const side: Side = {
    name: "MariaDB",
    baseline() {
      return new Promise((resolve, reject) => {
        let rows = 0;
        let idSum = 0;
        streaming
          .query(`SELECT id, updated_at, user, amount FROM ${TABLE} ORDER BY updated_at, id`)
          .stream({ highWaterMark: BATCH })
          .on("data", (r: RowDataPacket) => {
            rows++;
            idSum += Number(r.id);
          })
          .on("error", reject)
          .on("end", () => resolve({ rows, idSum }));
      });
    },
    source: () => drain(mysqlTableSource({ url: MY_URL, table: TABLE, cursor: ["updated_at", "id"], batch: BATCH })),
    byId: () => drain(mysqlTableSource({ url: MY_URL, table: TABLE, cursor: "id", batch: BATCH })),
  };
  return {
    side,
    async drop() {
      await conn.query(`DROP TABLE IF EXISTS ${TABLE}`);
      await conn.end();
      await new Promise<void>((resolve) => streaming.end(() => resolve()));
    },
  };
}

async function main(): Promise<void> {
  console.log(`table sources bench: ${ROWS.toLocaleString("en")} rows, batch ${BATCH.toLocaleString("en")}, ${RUNS} runs (median), node ${process.version}`);
  const expected = (ROWS * (ROWS - 1)) / 2;
  const made = [await postgresSide(), await mysqlSide()];
  try {
    console.log("");
    console.log("database     plain SELECT ORDER BY    source by (updated_at, id)         source by id (primary key)");
    for (const { side } of made) {
      const times = { base: [] as number[], src: [] as number[], id: [] as number[] };
      const steps = [
        [side.baseline, times.base],
        [side.source, times.src],
        [side.byId, times.id],
      ] as const;
      // One untimed read of each, so caches and the planner are warm for all.
      for (const [f] of steps) await f();
      for (let run = 0; run < RUNS; run++) {
        // Rotate the order, so noise on a shared machine spreads over every side.
        for (let k = 0; k < steps.length; k++) {
          const [f, into] = steps[(k + run) % steps.length] as (typeof steps)[number];
          const { ms, read } = await timed(f);
          if (read.rows !== ROWS || read.idSum !== expected) throw new Error(`${side.name}: read ${read.rows} rows (id sum ${read.idSum}), expected ${ROWS} (${expected})`);
          into.push(ms);
        }
      }
      const eps = (ms: readonly number[]): number => ROWS / (median(ms) / 1000);
      const b = eps(times.base);
      const cell = (e: number, ratio: boolean): string => `${Math.round(e).toLocaleString("en")} events/s${ratio ? ` (${(e / b).toFixed(2)}x)` : ""}`.padEnd(35);
      console.log(`${side.name.padEnd(13)}${cell(b, false).slice(0, 25)}${cell(eps(times.src), true)}${cell(eps(times.id), true)}`.trimEnd());
    }
  } finally {
    for (const m of made) await m.drop();
  }
}

await main();
