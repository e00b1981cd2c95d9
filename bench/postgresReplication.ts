/**
 * Logical replication source bench, on a private PostgreSQL with
 * wal_level = logical (test/helpers/privatePostgres.ts): N rows in a table,
 * read through postgresReplicationSource as a job reads them
 * (next(batch, 0) until drained) twice per run:
 *
 * - snapshot: the rows are in the table before a fresh open (the exported
 *   snapshot, keyset by primary key), beside a plain streaming
 *   `SELECT ... ORDER BY id` (porsager's cursor) in the same run;
 * - stream: the same number of rows inserted after the open, in transactions
 *   of 10,000, then read from the slot (decode, buffer, convert).
 *
 *   npx tsx bench/postgresReplication.ts                 # 200k rows, batch 10k, 3 runs
 *   npx tsx bench/postgresReplication.ts --rows=50000 --runs=5
 *
 * Rows: id (bigint primary key), at (timestamptz), user (text), amount
 * (numeric). The figure is the median of the runs, each after a full GC.
 */
import postgres from "postgres";
import { postgresReplicationSource } from "../src/sources/sql/postgresReplicationSource.js";
import type { StreamSource } from "../src/sources/stream/streamSource.js";
import { startPrivatePostgres } from "../test/helpers/privatePostgres.js";
import { fullGc, median, numberArg } from "./benchArgs.js";

const ROWS = numberArg("rows") ?? 200_000;
const BATCH = numberArg("batch") ?? 10_000;
const RUNS = numberArg("runs") ?? 3;

async function drain(source: StreamSource, rows: number): Promise<number> {
  let n = 0;
  let idSum = 0;
  let empty = 0;
  while (n < rows && empty < 40) {
    const b = await source.next(BATCH, 250);
    if (b.rows.length === 0) empty++;
    n += b.rows.length;
    for (const r of b.rows) idSum += (r as { id: number }).id;
  }
  if (n !== rows) throw new Error(`read ${n} rows, expected ${rows}`);
  return idSum;
}

const server = await startPrivatePostgres();
const sql = postgres(server.url, { max: 1, onnotice: () => undefined });
const rate = (rows: number, ms: number): number => Math.round((rows / ms) * 1_000);
const results: Record<string, number[]> = { snapshot: [], select: [], stream: [] };
try {
  for (let run = 0; run < RUNS; run++) {
    const table = `bench_repl_${run}`;
    const slot = `${table}_slot`;
    await sql.unsafe(`CREATE TABLE ${table} (id bigint PRIMARY KEY, at timestamptz NOT NULL, "user" text NOT NULL, amount numeric(12, 2) NOT NULL)`);
    const fill = (from: number): Promise<unknown> =>
      sql.unsafe(`INSERT INTO ${table} SELECT g, timestamptz '2024-01-01' + g * interval '1 ms', 'u' || g % 1000, (g % 997) / 10.0 FROM generate_series(${from}, ${from + ROWS - 1}) g`);
    await fill(0);
    await sql.unsafe(`VACUUM ANALYZE ${table}`);

    fullGc();
    let t = performance.now();
    let plain = 0;
    for await (const rows of sql.unsafe(`SELECT id, at, "user", amount FROM ${table} ORDER BY id`).cursor(BATCH)) for (const r of rows) plain += Number(r.id);
    results.select?.push(rate(ROWS, performance.now() - t));

    const source = postgresReplicationSource({ url: server.url, table, slot, batch: BATCH, dropSlotOnClose: true });
    fullGc();
    t = performance.now();
    await source.open(undefined);
    const snapSum = await drain(source, ROWS);
    results.snapshot?.push(rate(ROWS, performance.now() - t));
    if (snapSum !== plain) throw new Error("the snapshot and the SELECT read different rows");

    for (let i = 0; i < ROWS; i += 10_000) {
      await sql.unsafe(
        `INSERT INTO ${table} SELECT g, timestamptz '2024-01-01' + g * interval '1 ms', 'u' || g % 1000, (g % 997) / 10.0 FROM generate_series(${ROWS + i}, ${ROWS + Math.min(i + 10_000, ROWS) - 1}) g`,
      );
    }
    fullGc();
    t = performance.now();
    await drain(source, ROWS);
    results.stream?.push(rate(ROWS, performance.now() - t));
    await source.close();
    await sql.unsafe(`DROP PUBLICATION IF EXISTS freshet_${slot}`);
    await sql.unsafe(`DROP TABLE ${table}`);
  }
} finally {
  await sql.end();
  await server.stop();
}
console.log(`${ROWS.toLocaleString("en")} rows, batch ${BATCH.toLocaleString("en")}, median of ${RUNS} (rows/s):`);
console.log(`  snapshot through the source   ${median(results.snapshot ?? []).toLocaleString("en")}`);
console.log(`  plain SELECT ... ORDER BY id  ${median(results.select ?? []).toLocaleString("en")}`);
console.log(`  stream through the source     ${median(results.stream ?? []).toLocaleString("en")}`);
