/**
 * Binlog source bench, on a private MariaDB with binary logging (as the
 * tests start one): N rows inserted in transactions of 10,000, then read
 *
 *   - from the binary log by mysqlBinlogSource (snapshot: false, from the
 *     binlog point before the inserts; next(batch, 1000) until all arrived),
 *   - from the binary log by @vlasky/zongji alone (its 'binlog' events,
 *     rows counted, nothing else): what the library costs by itself,
 *   - as a snapshot by mysqlBinlogSource (keyset queries on the primary key
 *     in one consistent-snapshot transaction),
 *   - by mysqlTableSource with cursor "id", for comparison.
 *
 *   npx tsx bench/mysqlBinlog.ts                      # 200k rows, batch 10k, 3 runs
 *   npx tsx bench/mysqlBinlog.ts --rows=50000 --runs=5
 *
 * Rows: id (bigint primary key), user (varchar), amount (double), ts
 * (datetime(3)). Sides alternate within a run after a full GC; figures are
 * medians of the runs, in rows per second.
 */
import ZongJi, { type AnyBinlogEvent } from "@vlasky/zongji";
import { createConnection, type RowDataPacket } from "mysql2/promise";
import { mysqlBinlogSource } from "../src/sources/sql/mysqlBinlogSource.js";
import { mysqlTableSource } from "../src/sources/sql/mysqlTableSource.js";
import type { SourcePosition, StreamSource } from "../src/sources/stream/streamSource.js";
import { startPrivateMariadb } from "../test/helpers/privateMariadb.js";
import { fullGc, median, numberArg } from "./benchArgs.js";

const ROWS = numberArg("rows") ?? 200_000;
const BATCH = numberArg("batch") ?? 10_000;
const RUNS = numberArg("runs") ?? 3;
const TABLE = "bench_orders";
const T0 = Date.UTC(2024, 0, 1);

const server = await startPrivateMariadb();
const url = server.url;
const admin = await createConnection({ uri: url, timezone: "Z" });
try {
  await admin.query(`CREATE TABLE ${TABLE} (id BIGINT PRIMARY KEY, user VARCHAR(20) NOT NULL, amount DOUBLE NOT NULL, ts DATETIME(3) NOT NULL)`);
  const [status] = await admin.query<RowDataPacket[]>("SHOW MASTER STATUS");
  const start = { file: String(status[0]?.File), pos: Number(status[0]?.Position) };
  for (let i = 0; i < ROWS; i += 10_000) {
    const rows = Array.from({ length: Math.min(10_000, ROWS - i) }, (_, k) => {
      const id = i + k;
      return [id, `u${id % 1000}`, (id % 997) / 4, new Date(T0 + id * 10)];
    });
    await admin.query(`INSERT INTO ${TABLE} VALUES ?`, [rows]);
  }

  const drain = async (source: StreamSource, from: SourcePosition | undefined, waitMs: number): Promise<number> => {
    await source.open(from);
    let n = 0;
    try {
      while (n < ROWS) {
        const b = await source.next(BATCH, waitMs);
        if (b.rows.length === 0 && waitMs === 0) break;
        n += b.rows.length;
      }
    } finally {
      await source.close();
    }
    return n;
  };

  const zongjiAlone = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const z = new ZongJi({ uri: url, timezone: "Z", supportBigNumbers: true, decimalNumbers: true });
      let n = 0;
      z.on("error", reject);
      z.on("binlog", (e: AnyBinlogEvent) => {
        if (e.getEventName() !== "writerows") return;
        n += (e as { rows: unknown[] }).rows.length;
        if (n >= ROWS) {
          z.stop();
          resolve(n);
        }
      });
      z.start({ serverId: 4242, filename: start.file, position: start.pos, includeEvents: ["tablemap", "writerows"], includeSchema: { test: [TABLE] } });
    });

  const sides: Record<string, () => Promise<number>> = {
    "binlog (mysqlBinlogSource)": () => drain(mysqlBinlogSource({ url, table: TABLE, snapshot: false, batch: BATCH }), { file: start.file, pos: start.pos, skip: 0 }, 1_000),
    "binlog (zongji alone)": zongjiAlone,
    "snapshot (mysqlBinlogSource)": () => drain(mysqlBinlogSource({ url, table: TABLE, batch: BATCH }), undefined, 0),
    "table (mysqlTableSource by id)": () => drain(mysqlTableSource({ url, table: TABLE, cursor: "id", batch: BATCH }), undefined, 0),
  };
  const rates: Record<string, number[]> = {};
  const names = Object.keys(sides);
  for (let run = 0; run < RUNS; run++) {
    const order = run % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      fullGc();
      const t = performance.now();
      const n = await (sides[name] as () => Promise<number>)();
      const s = (performance.now() - t) / 1_000;
      if (n !== ROWS) throw new Error(`${name} read ${n} rows, expected ${ROWS}`);
      (rates[name] ??= []).push(ROWS / s);
    }
  }
  console.log(`${ROWS.toLocaleString("en")} rows, batch ${BATCH.toLocaleString("en")}, median of ${RUNS} runs`);
  for (const name of names) console.log(`${name.padEnd(32)} ${Math.round(median(rates[name] ?? [])).toLocaleString("en")} rows/s`);
} finally {
  await admin.end();
  await server.stop();
}
