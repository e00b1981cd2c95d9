/**
 * The MariaDB/MySQL table source against the real server: the shared stream
 * source conformance suite (INSERT is "produce"), then what only a polled
 * table has: ties on the cursor, microsecond timestamps, rows that arrive
 * late, bad names, and reopening from a saved position.
 */
import { createConnection, type Connection } from "mysql2/promise";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SourceError } from "../src/errors.js";
import { mysqlTableSource, type MysqlTableSourceOptions } from "../src/sources/sql/mysqlTableSource.js";
import type { SourcePosition, StreamSource } from "../src/sources/stream/streamSource.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";
import { readN, streamSourceConformance, type TestRow } from "./streamSource.conformance.js";

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
      return {
        // The suite checks timestamps as ISO text, which is what `timestamps: "iso"` hands out.
        source: () => mysqlTableSource({ url, table, cursor: ["ts", "id"], timestamps: "iso", pollMs: 50 }),
        async produce(rows: readonly TestRow[]) {
          await admin.query(`INSERT INTO ${table} (id, user, ts) VALUES ?`, [rows.map((r) => [r.id, r.user, new Date(r.ts)])]);
        },
        async teardown() {
          await admin.query(`DROP TABLE IF EXISTS ${table}`);
        },
      };
    },
  });

  describe("adapter", () => {
    const tables: string[] = [];
    const sources: StreamSource[] = [];
    afterEach(async () => {
      for (const s of sources.splice(0)) await s.close();
      for (const t of tables.splice(0)) await admin.query(`DROP TABLE IF EXISTS ${t}`);
    });
    async function table(ddl: string): Promise<string> {
      const name = freshName();
      tables.push(name);
      await admin.query(`CREATE TABLE ${name} (${ddl})`);
      return name;
    }
    async function open(o: Omit<MysqlTableSourceOptions, "url">, from?: SourcePosition): Promise<StreamSource> {
      const s = mysqlTableSource({ url, pollMs: 50, ...o });
      sources.push(s);
      await s.open(from);
      return s;
    }
    const ids = (rows: readonly unknown[]): number[] => rows.map((r) => (r as { id: number }).id);

    it("reads rows that tie on the cursor column across batch boundaries once each, in (cursor, id) order", async () => {
      const t = await table("id INT PRIMARY KEY, updated_at DATETIME NOT NULL, v VARCHAR(10) NOT NULL, INDEX (updated_at, id)");
      await admin.query(`INSERT INTO ${t} VALUES
        (50, '2024-01-01 00:00:00', 'first'), (51, '2024-01-01 00:00:01', 'second'),
        (9, '2024-01-01 00:00:05', 'tie'), (3, '2024-01-01 00:00:05', 'tie'), (7, '2024-01-01 00:00:05', 'tie'),
        (1, '2024-01-01 00:00:05', 'tie'), (8, '2024-01-01 00:00:05', 'tie'), (2, '2024-01-01 00:00:05', 'tie'),
        (6, '2024-01-01 00:00:05', 'tie'), (4, '2024-01-01 00:00:05', 'tie'), (10, '2024-01-01 00:00:05', 'tie'),
        (5, '2024-01-01 00:00:05', 'tie'), (0, '2024-01-01 00:00:09', 'last')`);
      const s = await open({ table: t, cursor: ["updated_at", "id"] });
      const batches: number[][] = [];
      const positions: SourcePosition[] = [];
      for (;;) {
        const b = await s.next(3, 0);
        if (b.rows.length === 0) break;
        batches.push(ids(b.rows));
        positions.push(b.position);
      }
      expect(batches).toEqual([[50, 51, 1], [2, 3, 4], [5, 6, 7], [8, 9, 10], [0]]);
      expect(positions[1]).toEqual(["2024-01-01T00:00:05.000000Z", "4"]);
      expect(s.stats().read).toBe(13);
    });

    it("keeps microseconds in the position, so rows within one millisecond are neither lost nor repeated", async () => {
      const t = await table("id INT PRIMARY KEY, at DATETIME(6) NOT NULL UNIQUE");
      await admin.query(`INSERT INTO ${t} VALUES (1, '2024-01-01 00:00:00.000100'), (2, '2024-01-01 00:00:00.000200'), (3, '2024-01-01 00:00:00.000900')`);
      const s = await open({ table: t, cursor: "at", timestamps: "ms" });
      const first = await s.next(1, 0);
      expect(first.rows).toEqual([{ id: 1, at: Date.UTC(2024, 0, 1) }]);
      expect(first.position).toEqual(["2024-01-01T00:00:00.000100Z"]);
      expect(ids((await s.next(1, 0)).rows)).toEqual([2]);
      expect(ids((await s.next(5, 0)).rows)).toEqual([3]);
    });

    it("delivers a row inserted later with a later timestamp, holds it back for settleMs, and misses one inserted later with an earlier cursor (the documented limit)", async () => {
      const t = await table("id INT PRIMARY KEY, updated_at TIMESTAMP(6) NOT NULL");
      await admin.query(`INSERT INTO ${t} VALUES (1, UTC_TIMESTAMP(6) - INTERVAL 1 HOUR), (2, UTC_TIMESTAMP(6) - INTERVAL 30 MINUTE)`);
      const settled = await open({ table: t, cursor: ["updated_at", "id"], settleMs: 1_500 });
      const plain = await open({ table: t, cursor: ["updated_at", "id"] });
      expect(ids((await plain.next(10, 0)).rows)).toEqual([1, 2]);
      expect(ids((await settled.next(10, 0)).rows)).toEqual([1, 2]);

      await admin.query(`INSERT INTO ${t} VALUES (3, UTC_TIMESTAMP(6))`);
      expect(ids((await plain.next(10, 2_000)).rows)).toEqual([3]);
      expect((await settled.next(10, 300)).rows).toEqual([]);
      const late = await readN(settled, 1, 10, 40);
      expect(ids(late.rows)).toEqual([3]);

      await admin.query(`INSERT INTO ${t} VALUES (4, UTC_TIMESTAMP(6) - INTERVAL 10 MINUTE), (5, UTC_TIMESTAMP(6) + INTERVAL 1 SECOND)`);
      expect(ids((await plain.next(10, 2_000)).rows)).toEqual([5]);
      expect(await plain.lag()).toBe(0);
    });

    it("opened again from a position saved mid-table (through JSON), reads exactly the rest", async () => {
      const t = await table("id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(5) NOT NULL");
      await admin.query(`INSERT INTO ${t} (kind) VALUES ${Array.from({ length: 20 }, (_, i) => `('k${i % 3}')`).join(", ")}`);
      const first = await open({ table: t, cursor: "id", batch: 4 });
      const a = await readN(first, 7, 7);
      expect(ids(a.rows)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(a.position).toEqual(["7"]);
      expect(await first.lag()).toBe(13);
      const saved = JSON.parse(JSON.stringify(a.position)) as SourcePosition;
      const again = await open({ table: t, cursor: "id", columns: ["id"] }, saved);
      const b = await readN(again, 13, 100);
      expect(ids(b.rows)).toEqual(Array.from({ length: 13 }, (_, i) => 8 + i));
      expect(b.rows[0]).toEqual({ id: 8 });
      expect(b.position).toEqual(["20"]);
    });

    it("hands numbers to the dataset as numbers: BIGINT, DECIMAL, and DATETIME as UTC", async () => {
      const t = await table("id BIGINT PRIMARY KEY, price DECIMAL(12, 4) NOT NULL, at DATETIME(6) NOT NULL, day DATE NOT NULL");
      await admin.query(`INSERT INTO ${t} VALUES (9007199254740993, 12.5, '2024-03-01 10:20:30.123456', '2024-03-01'), (42, 0.0001, '2024-03-01 10:20:31', '2024-03-02')`);
      const s = await open({ table: t, cursor: "id" });
      const { rows, position } = await s.next(10, 0);
      expect(rows[0]).toEqual({ id: 42, price: 0.0001, at: new Date(Date.UTC(2024, 2, 1, 10, 20, 31)), day: new Date(Date.UTC(2024, 2, 2)) });
      // Beyond 2^53 the driver hands out text, so no digit is lost.
      expect(rows[1]).toEqual({ id: "9007199254740993", price: 12.5, at: new Date(Date.UTC(2024, 2, 1, 10, 20, 30, 123)), day: new Date(Date.UTC(2024, 2, 1)) });
      expect(position).toEqual(["9007199254740993"]);
      const text = await open({ table: t, cursor: "id", decimalsAsText: true, timestamps: "iso", columns: ["price", "at"] });
      expect((await text.next(1, 0)).rows).toEqual([{ price: "0.0001", at: "2024-03-01T10:20:31.000Z" }]);
    });

    it("names the missing table, the missing column, and a cursor that cannot be trusted", async () => {
      const t = await table("id INT PRIMARY KEY, updated_at DATETIME NOT NULL, maybe DATETIME NULL, score DOUBLE NOT NULL, `odd``name` VARCHAR(5) NOT NULL");
      const failure = async (o: Omit<MysqlTableSourceOptions, "url">): Promise<string> => {
        const s = mysqlTableSource({ url, ...o });
        sources.push(s);
        const err = await s.open(undefined).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(SourceError);
        return (err as Error).message;
      };
      expect(await failure({ table: "no_such_table_here", cursor: "id" })).toMatch(/MariaDB\/MySQL .*table `no_such_table_here` does not exist/);
      expect(await failure({ table: t, cursor: ["updated_at", "idd"] })).toMatch(/has no cursor column "idd" \(its columns: id, updated_at, maybe, score, odd`name\)/);
      expect(await failure({ table: t, cursor: "id", columns: ["id", "nope"] })).toMatch(/has no selected column "nope"/);
      expect(await failure({ table: t, cursor: "updated_at" })).toMatch(/cursor \(updated_at\) of .* is not unique/);
      expect(await failure({ table: t, cursor: ["maybe", "id"] })).toMatch(/cursor column "maybe" .* allows NULL/);
      expect(await failure({ table: t, cursor: ["score", "id"] })).toMatch(/cursor column "score" .* double, which cannot order a cursor/);
      expect(await failure({ table: t, cursor: "id", settleMs: 100 })).toMatch(/settleMs needs a timestamp/);
      await admin.query(`INSERT INTO ${t} VALUES (1, NOW(), NULL, 1.5, 'x')`);
      const s = await open({ table: t, cursor: "id", columns: ["odd`name", "score"] });
      expect((await s.next(5, 0)).rows).toEqual([{ "odd`name": "x", score: 1.5 }]);
    });
  });
});
