/**
 * The MariaDB/MySQL table source against the real server: the shared stream
 * source conformance suite (INSERT is "produce"), then the cases shared by
 * the polled table sources (test/tableSource.cases.ts): ties on the cursor,
 * microsecond timestamps, rows that arrive late, bad names, reopening from a
 * saved position.
 */
import { createConnection, type Connection } from "mysql2/promise";
import { afterAll, beforeAll, describe } from "vitest";
import { mysqlTableSource, type MysqlTableSourceOptions } from "../src/sources/sql/mysqlTableSource.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";
import { streamSourceConformance, type TestRow } from "./streamSource.conformance.js";
import { tablePositionAfter, tableSourceCases } from "./tableSource.cases.js";

const available = await serviceAvailable("mysql");
const url = SERVICES.mysql.url;
let made = 0;
const freshName = (): string => `freshet_my_tsrc_${process.pid}_${Date.now()}_${made++}`;

describe.skipIf(!available)("MariaDB/MySQL table source", () => {
  let admin: Connection;
  beforeAll(async () => {
    admin = await createConnection({ uri: url, timezone: "Z" });
    await admin.query("SET time_zone = '+00:00'");
  });
  afterAll(async () => {
    await admin.end();
  });

  streamSourceConformance("MariaDB/MySQL table", {
    systemName: /MariaDB\/MySQL/,
    unreachable: () => mysqlTableSource({ url: "mysql://root@127.0.0.1:1/test", table: "nothing", cursor: "id" }),
    async fixture() {
      const table = freshName();
      await admin.query(`CREATE TABLE ${table} (id BIGINT PRIMARY KEY, user VARCHAR(20) NOT NULL, ts DATETIME(3) NOT NULL, INDEX (ts, id))`);
      // The suite checks timestamps as ISO text, which is what `timestamps: "iso"` hands out.
      const options: MysqlTableSourceOptions = { url, table, cursor: ["ts", "id"], timestamps: "iso", pollMs: 50 };
      return {
        source: () => mysqlTableSource(options),
        childSource: { factory: "mysqlTableSource", module: "../src/sources/sql/mysqlTableSource.ts", options },
        positionAfter: tablePositionAfter,
        async produce(rows: readonly TestRow[]) {
          await admin.query(`INSERT INTO ${table} (id, user, ts) VALUES ?`, [rows.map((r) => [r.id, r.user, new Date(r.ts)])]);
        },
        async teardown() {
          await admin.query(`DROP TABLE IF EXISTS ${table}`);
        },
      };
    },
  });

  tableSourceCases({
    system: "MariaDB/MySQL",
    types: {
      int: "INT",
      bigint: "BIGINT",
      text: "VARCHAR(20)",
      date: "DATE",
      decimal: "DECIMAL(12, 4)",
      double: "double",
      serial: "BIGINT UNSIGNED AUTO_INCREMENT",
      timestamp: "DATETIME",
      timestampMicros: "DATETIME(6)",
      zonedTimestampMicros: "TIMESTAMP(6)",
      zonelessTimestampMicros: "DATETIME(6)",
    },
    freshName,
    async exec(sql) {
      await admin.query(sql);
    },
    quote: (name) => `\`${name.replaceAll("`", "``")}\``,
    now: (ms) => (ms === 0 ? "UTC_TIMESTAMP(6)" : `UTC_TIMESTAMP(6) + INTERVAL ${ms * 1000} MICROSECOND`),
    source: (o) => mysqlTableSource({ url, ...o }),
    // Beyond 2^53 the driver hands out text, so no digit is lost.
    bigintPastSafe: "9007199254740993",
  });
});
