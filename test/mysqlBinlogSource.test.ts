/**
 * The MariaDB/MySQL binlog source against a private MariaDB with binary
 * logging (test/helpers/privateMariadb.ts; the shared server has log_bin OFF):
 * the shared stream source conformance suite twice (INSERT is "produce"; once
 * read through the snapshot, once from the binary log alone), then what is
 * particular to change data capture: a snapshot followed by changes, updates
 * and deletes, transactions split across batches, a snapshot interrupted and
 * resumed while the table changes, other tables, column types equal to the
 * table source's, and an OnlineJob fed from the binlog.
 */
import { createConnection, type Connection, type RowDataPacket } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SourceError } from "../src/errors.js";
import { mysqlBinlogSource, type MysqlBinlogSource, type MysqlBinlogSourceOptions } from "../src/sources/sql/mysqlBinlogSource.js";
import { mysqlTableSource } from "../src/sources/sql/mysqlTableSource.js";
import type { SourcePosition } from "../src/sources/stream/streamSource.js";
import { binlogSourceFrom, type BinlogFromOptions } from "./helpers/binlogSourceFrom.js";
import { privateMariadbAvailable, startPrivateMariadb, type PrivateMariadb } from "./helpers/privateMariadb.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";
import { readN, streamSourceConformance, type TestRow } from "./streamSource.conformance.js";

const available = privateMariadbAvailable();
const sharedServer = await serviceAvailable("mysql");
let server: PrivateMariadb | undefined;
let made = 0;
const freshName = (): string => `binlog_${process.pid}_${made++}`;

describe.skipIf(!available)("MariaDB/MySQL binlog source", () => {
  let admin: Connection;
  let url = "";
  beforeAll(async () => {
    server = await startPrivateMariadb();
    url = server.url;
    admin = await createConnection({ uri: url, timezone: "Z", multipleStatements: true });
    await admin.query("SET time_zone = '+00:00'");
  }, 60_000);
  afterAll(async () => {
    await admin?.end();
    await server?.stop();
  });

  const ordersTable = async (table: string): Promise<void> => {
    await admin.query(`CREATE TABLE ${table} (id BIGINT PRIMARY KEY, user VARCHAR(20) NOT NULL, ts DATETIME(3) NOT NULL)`);
  };
  const insert = async (table: string, rows: readonly TestRow[]): Promise<void> => {
    for (let i = 0; i < rows.length; i += 1_000) {
      await admin.query(`INSERT INTO ${table} (id, user, ts) VALUES ?`, [rows.slice(i, i + 1_000).map((r) => [r.id, r.user, new Date(r.ts)])]);
    }
  };
  const binlogEnd = async (): Promise<{ file: string; pos: number }> => {
    const [rows] = await admin.query<RowDataPacket[]>("SHOW MASTER STATUS");
    return { file: String(rows[0]?.File), pos: Number(rows[0]?.Position) };
  };

  streamSourceConformance("MariaDB/MySQL binlog (snapshot, then changes)", {
    systemName: /MariaDB\/MySQL/,
    lagUnknown: true,
    unreachable: () => mysqlBinlogSource({ url: "mysql://root@127.0.0.1:1/test", table: "nothing" }),
    async fixture() {
      const table = freshName();
      await ordersTable(table);
      const options: MysqlBinlogSourceOptions = { url, table, timestamps: "iso" };
      return {
        source: () => mysqlBinlogSource(options),
        childSource: { factory: "mysqlBinlogSource", module: "../src/sources/sql/mysqlBinlogSource.ts", options },
        produce: (rows) => insert(table, rows),
        async teardown() {
          await admin.query(`DROP TABLE IF EXISTS ${table}`);
        },
      };
    },
  });

  streamSourceConformance("MariaDB/MySQL binlog (changes only)", {
    systemName: /MariaDB\/MySQL/,
    lagUnknown: true,
    async fixture() {
      const table = freshName();
      await ordersTable(table);
      const options: BinlogFromOptions = { url, table, timestamps: "iso", start: await binlogEnd() };
      return {
        source: () => binlogSourceFrom(options),
        childSource: { factory: "binlogSourceFrom", module: "./helpers/binlogSourceFrom.ts", options },
        // One transaction per 100 rows, so reads split transactions and multi-row events.
        async produce(rows) {
          for (let i = 0; i < rows.length; i += 100) await insert(table, rows.slice(i, i + 100));
        },
        async teardown() {
          await admin.query(`DROP TABLE IF EXISTS ${table}`);
        },
      };
    },
  });

  /** Reads until `n` rows came (failing after a few empty reads), returning them and the last position. */
  const readAll = async (s: MysqlBinlogSource, n: number, batch = 1_000): Promise<{ rows: Array<Record<string, unknown>>; position: SourcePosition | undefined }> => {
    const { rows, position } = await readN(s, n, batch, 12);
    expect(rows).toHaveLength(n);
    return { rows: rows as Array<Record<string, unknown>>, position };
  };
  const opened: MysqlBinlogSource[] = [];
  const open = async (o: Omit<MysqlBinlogSourceOptions, "url">, from?: SourcePosition): Promise<MysqlBinlogSource> => {
    const s = mysqlBinlogSource({ url, ...o });
    opened.push(s);
    await s.open(from);
    return s;
  };
  afterAll(async () => {
    for (const s of opened) await s.close();
  });

  it("hands out the table's rows, then inserts and updates' new rows in commit order; deletes are skipped and counted", async () => {
    const table = freshName();
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v VARCHAR(10) NOT NULL)`);
    await admin.query(`INSERT INTO ${table} VALUES (1, 'a'), (2, 'b'), (3, 'c')`);
    const s = await open({ table, operationField: "op" });
    expect(s.kind).toBe("mysql-binlog");
    expect(s.description).toContain("127.0.0.1");
    await admin.query(`INSERT INTO ${table} VALUES (4, 'd'); UPDATE ${table} SET v = 'B' WHERE id = 2; DELETE FROM ${table} WHERE id = 1; INSERT INTO ${table} VALUES (5, 'e')`);
    const { rows } = await readAll(s, 6, 2);
    expect(rows).toEqual([
      { id: 1, v: "a", op: "snapshot" },
      { id: 2, v: "b", op: "snapshot" },
      { id: 3, v: "c", op: "snapshot" },
      { id: 4, v: "d", op: "insert" },
      { id: 2, v: "B", op: "update" },
      { id: 5, v: "e", op: "insert" },
    ]);
    expect(s.changes()).toEqual({ snapshot: 3, inserts: 2, updates: 1, deletes: 1, skipped: 1 });
    expect((await s.next(10, 200)).rows).toEqual([]);
  });

  it("with deletes: 'row' hands out the deleted row, with updates: 'skip' no update", async () => {
    const table = freshName();
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v VARCHAR(10) NOT NULL)`);
    const s = await open({ table, deletes: "emit", updates: "skip", operationField: "op" });
    await admin.query(`INSERT INTO ${table} VALUES (1, 'a'), (2, 'b'); UPDATE ${table} SET v = 'x'; DELETE FROM ${table} WHERE id = 2`);
    const { rows } = await readAll(s, 3);
    expect(rows).toEqual([
      { id: 1, v: "a", op: "insert" },
      { id: 2, v: "b", op: "insert" },
      { id: 2, v: "x", op: "delete" },
    ]);
    expect(s.changes()).toEqual({ snapshot: 0, inserts: 2, updates: 2, deletes: 1, skipped: 2 });
  });

  it("ignores other tables, the same table name in another database, and rolled-back transactions", async () => {
    const table = freshName();
    await ordersTable(table);
    await admin.query(`CREATE DATABASE IF NOT EXISTS other_db; CREATE TABLE other_db.${table} (id BIGINT PRIMARY KEY, user VARCHAR(20) NOT NULL, ts DATETIME(3) NOT NULL)`);
    await admin.query(`CREATE TABLE ${table}_x (id INT PRIMARY KEY)`);
    const s = await open({ table, snapshot: false });
    await admin.query(`INSERT INTO other_db.${table} VALUES (1, 'o', NOW()); INSERT INTO ${table}_x VALUES (1)`);
    await admin.query(`BEGIN; INSERT INTO ${table} VALUES (9, 'rolled back', NOW()); ROLLBACK`);
    await admin.query(`BEGIN; INSERT INTO ${table}_x VALUES (2); INSERT INTO ${table} VALUES (1, 'mine', NOW()); INSERT INTO other_db.${table} VALUES (2, 'o', NOW()); COMMIT`);
    const { rows } = await readAll(s, 1);
    expect(rows[0]).toMatchObject({ id: 1, user: "mine" });
    expect((await s.next(10, 300)).rows).toEqual([]);
  });

  it("splits a multi-row event and a transaction of several statements across batches, and a reopen from inside them repeats and loses nothing", async () => {
    const table = freshName();
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
    const s = await open({ table, snapshot: false });
    const values = (from: number, n: number): string => Array.from({ length: n }, (_, i) => `(${from + i})`).join(", ");
    // One 10-row event; a transaction with two statements and another table in between; a rotated binlog; one more row.
    await admin.query(`INSERT INTO ${table} VALUES ${values(0, 10)}`);
    await admin.query(`CREATE TABLE ${table}_y (id INT PRIMARY KEY)`);
    await admin.query(`BEGIN; INSERT INTO ${table} VALUES ${values(10, 5)}; INSERT INTO ${table}_y VALUES (1); INSERT INTO ${table} VALUES ${values(15, 5)}; COMMIT`);
    await admin.query("FLUSH BINARY LOGS");
    await admin.query(`INSERT INTO ${table} VALUES (20)`);
    const all: number[] = [];
    let position: SourcePosition | undefined;
    let reader = s;
    // Read 3 rows at a time, reopening from the last position after every read.
    while (all.length < 21) {
      const b = await reader.next(3, 2_000);
      expect(b.rows.length).toBeGreaterThan(0);
      all.push(...b.rows.map((r) => Number((r as { id: unknown }).id)));
      position = JSON.parse(JSON.stringify(b.position)) as SourcePosition;
      await reader.close();
      reader = await open({ table, snapshot: false }, position);
    }
    expect(all).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect((await reader.next(10, 300)).rows).toEqual([]);
    // A position inside the 10-row event names the rows already handed out; the one after the event's commit skips none.
    expect(position).toMatchObject({ skip: 0 });
    expect((position as { file: string }).file).toMatch(/\.000002$/);
  });

  it("holds at most a few batches while the job reads slowly (the replica connection pauses), and loses nothing when it resumes", async () => {
    const table = freshName();
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, pad VARCHAR(200) NOT NULL)`);
    const s = await open({ table, snapshot: false, batch: 100 });
    const pad = "x".repeat(200);
    for (let t = 0; t < 40; t++) {
      await admin.query(`INSERT INTO ${table} VALUES ?`, [Array.from({ length: 250 }, (_, i) => [t * 250 + i, pad])]);
    }
    const ids: number[] = [];
    let maxQueued = 0;
    while (ids.length < 10_000) {
      const b = await s.next(50, 2_000);
      expect(b.rows.length).toBeGreaterThan(0);
      ids.push(...b.rows.map((r) => Number((r as { id: unknown }).id)));
      maxQueued = Math.max(maxQueued, s.changes().inserts - ids.length);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(ids).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    // Twice the batch, plus what one socket read held when the connection paused (whole events of 250 rows).
    expect(maxQueued).toBeLessThan(2_000);
  });

  it("when the server drops a paused replica connection (a pause longer than net_write_timeout), reconnects where the queue ends and loses or repeats nothing", async () => {
    const table = freshName();
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, pad VARCHAR(500) NOT NULL)`);
    await admin.query("SET GLOBAL net_write_timeout = 2");
    try {
      const s = await open({ table, snapshot: false, batch: 100 });
      const pad = "x".repeat(500);
      // 20 transactions of 1,000 rows: far more than the socket buffers hold while the reader is paused.
      for (let t = 0; t < 20; t++) await admin.query(`INSERT INTO ${table} VALUES ?`, [Array.from({ length: 1_000 }, (_, i) => [t * 1_000 + i, pad])]);
      const ids: number[] = (await s.next(50, 2_000)).rows.map((r) => Number((r as { id: unknown }).id));
      await new Promise((r) => setTimeout(r, 5_000));
      while (ids.length < 20_000) {
        const b = await s.next(5_000, 3_000);
        expect(b.rows.length).toBeGreaterThan(0);
        ids.push(...b.rows.map((r) => Number((r as { id: unknown }).id)));
      }
      expect(ids).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
      expect((await s.next(10, 300)).rows).toEqual([]);
    } finally {
      await admin.query("SET GLOBAL net_write_timeout = 60");
    }
  }, 60_000);

  it("reports lagBytes as the binlog written after the position: the server's own figure, growing with unread changes and across a rotation, once everything is read 0 or only events that are not changes", async () => {
    const table = freshName();
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v VARCHAR(10) NOT NULL)`);
    const s = await open({ table, snapshot: false });
    const pointOf = (p: SourcePosition | undefined): { file: string; pos: number; skip: number } => p as { file: string; pos: number; skip: number };
    const start = pointOf((await s.next(10, 100)).position);
    /** The server's figure: from `at` to the end of its file (its last event's end), plus the current file up to SHOW MASTER STATUS. */
    const serverFigure = async (at: { file: string; pos: number }): Promise<number> => {
      const end = await binlogEnd();
      if (end.file === at.file) return end.pos - at.pos;
      const [events] = await admin.query<RowDataPacket[]>(`SHOW BINLOG EVENTS IN '${at.file}'`);
      const fileEnd = Number(events[events.length - 1]?.End_log_pos);
      expect(Number(end.file.slice(-6))).toBe(Number(at.file.slice(-6)) + 1);
      return fileEnd - at.pos + end.pos;
    };
    /**
     * Once everything is read: lagBytes beside the events after `at` in its (current) file, read around it
     * again until none was written in between. MariaDB writes a Binlog_checkpoint event on its own some
     * time after a rotation, which may land after the last commit read.
     */
    const caughtUpAt = async (at: { file: string; pos: number }): Promise<{ lag: number | undefined; bytes: number; events: string[] }> => {
      const after = async (): Promise<RowDataPacket[]> => (await admin.query<RowDataPacket[]>("SHOW BINLOG EVENTS IN ? FROM ?", [at.file, at.pos]))[0];
      for (;;) {
        const before = await after();
        const lag = await s.lagBytes();
        if ((await after()).length === before.length) {
          return { lag, bytes: before.reduce((n, e) => n + Number(e.End_log_pos) - Number(e.Pos), 0), events: before.map((e) => String(e.Event_type)) };
        }
      }
    };
    // Reading only from an empty table, at the binlog's end.
    expect(await s.lagBytes()).toBe(0);
    expect(await serverFigure(start)).toBe(0);

    for (let id = 1; id <= 5; id++) await admin.query(`INSERT INTO ${table} VALUES (${id}, 'v')`);
    const unread = await s.lagBytes();
    expect(unread).toBe(await serverFigure(start));
    // Five transactions (GTID, table map, rows, commit): over 5 x 100 bytes.
    expect(unread).toBeGreaterThan(500);

    // Read once every event is queued, so the last row's position is after its commit, where nothing of the binlog remains.
    await new Promise((r) => setTimeout(r, 500));
    const at = pointOf((await readAll(s, 5)).position);
    expect(at).toMatchObject({ file: start.file, skip: 0 });
    const caughtUp = await caughtUpAt(at);
    expect(caughtUp.lag).toBe(caughtUp.bytes);
    expect(caughtUp.events.filter((e) => e !== "Binlog_checkpoint")).toEqual([]);
    expect(caughtUp.lag).toBe(await serverFigure(at));

    // Across a rotation: the rest of the old file (its rotate event) plus the new one up to the end.
    await admin.query("FLUSH BINARY LOGS");
    await admin.query(`INSERT INTO ${table} VALUES ?`, [Array.from({ length: 100 }, (_, i) => [100 + i, "w"])]);
    const rotated = await s.lagBytes();
    expect(rotated).toBe(await serverFigure(at));
    expect(rotated).toBeGreaterThan(100 * 10);
    await new Promise((r) => setTimeout(r, 500));
    const after = pointOf((await readAll(s, 100)).position);
    expect(after).toMatchObject({ file: expect.not.stringMatching(at.file), skip: 0 });
    // Nothing but the Binlog_checkpoint event, when it came after the last commit (40 bytes), else 0.
    const rotatedCaughtUp = await caughtUpAt(after);
    expect(rotatedCaughtUp.lag).toBe(rotatedCaughtUp.bytes);
    expect(rotatedCaughtUp.events.filter((e) => e !== "Binlog_checkpoint")).toEqual([]);
    await s.close();
    expect(await s.lagBytes()).toBeUndefined();
  });

  it("a position whose binlog file the server no longer has fails the read with a SourceError", async () => {
    const table = freshName();
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
    const s = await open({ table }, { file: "binlog.000999", pos: 4, skip: 0 });
    // How much the missing file held is unknown.
    expect(await s.lagBytes()).toBeUndefined();
    const err = await s.next(10, 5_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toMatch(/^MariaDB\/MySQL 127\.0\.0\.1:\d+\/test: reading the binary log from binlog\.000999:4 failed \(table `binlog_\w+`\): Could not find first log file name/);
  });

  it("a snapshot interrupted and resumed while the table changes: every row once, changes to rows read before the interruption from the binlog, the rest from the new snapshot", async () => {
    const table = freshName();
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL)`);
    await admin.query(`INSERT INTO ${table} VALUES ${Array.from({ length: 100 }, (_, i) => `(${i}, 0)`).join(", ")}`);
    const first = await open({ table, batch: 10, operationField: "op" });
    const { rows: before, position } = await readAll(first, 30, 10);
    expect(before.map((r) => r.id)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(position).toMatchObject({ snapshot: { after: ["29"] } });
    await first.close();
    // While no reader runs: a row already read changes, one not yet read changes, rows are added on both sides, one is deleted.
    await admin.query(`UPDATE ${table} SET v = 1 WHERE id IN (10, 50); INSERT INTO ${table} VALUES (200, 2), (-1, 2); DELETE FROM ${table} WHERE id = 60`);
    const again = await open({ table, batch: 10, operationField: "op" }, position);
    const { rows: rest, position: later } = await readAll(again, 69 + 1 + 2, 25);
    // The new snapshot: ids 30..99 without 60 and with 50's new value, then 200; from the binlog: -1 (added below the key) and 10's update.
    const snapshotRows = rest.filter((r) => r.op === "snapshot");
    expect(snapshotRows.map((r) => r.id)).toEqual([...Array.from({ length: 70 }, (_, i) => 30 + i).filter((i) => i !== 60), 200]);
    expect(snapshotRows.find((r) => r.id === 50)).toEqual({ id: 50, v: 1, op: "snapshot" });
    expect(rest.filter((r) => r.op !== "snapshot")).toEqual([
      { id: 10, v: 1, op: "update" },
      { id: -1, v: 2, op: "insert" },
    ]);
    expect((await again.next(10, 300)).rows).toEqual([]);
    // After the window's point every change counts again, whatever its key.
    await admin.query(`UPDATE ${table} SET v = 3 WHERE id = 50`);
    expect((await readAll(again, 1)).rows).toEqual([{ id: 50, v: 3, op: "update" }]);
    expect(later).not.toHaveProperty("snapshot");
  });

  it("hands out the same values for each column type as the table source, from the snapshot and from the binlog (with and without column metadata in it)", async () => {
    const table = freshName();
    await admin.query(
      `CREATE TABLE ${table} (id BIGINT UNSIGNED PRIMARY KEY, i INT, b BIGINT, d DECIMAL(12, 4), f DOUBLE, flag TINYINT(1), s VARCHAR(30), txt TEXT,
        dt DATETIME(6), ts TIMESTAMP(3) NULL, day DATE, j JSON)`,
    );
    const row = (id: string): string => `(${id}, -5, 9007199254740993, 12345678.1234, 0.25, 1, 'ünï', 'long text', '2024-02-29 23:59:59.123456', '2024-01-01 00:00:01.5', '2024-03-01', '{"a": [1, 2]}')`;
    await admin.query(`INSERT INTO ${table} VALUES ${row("1")}, ${row("18446744073709551615")}, (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
    for (const timestamps of ["date", "iso", "ms"] as const) {
      const tableSource = mysqlTableSource({ url, table, cursor: "id", timestamps });
      await tableSource.open(undefined);
      const expected = (await readN(tableSource, 3)).rows;
      await tableSource.close();
      const snap = await open({ table, timestamps });
      expect((await readAll(snap, 3)).rows).toEqual(expected);
      // The same rows written again are read from the binlog, whose events describe their columns
      // (binlog_row_metadata = FULL) or not (NO_LOG, MariaDB's default: the library asks information_schema).
      for (const metadata of ["NO_LOG", "FULL"]) {
        await admin.query(`SET GLOBAL binlog_row_metadata = ${metadata}`);
        await admin.query(`CREATE TABLE ${table}_copy LIKE ${table}`);
        const changes = await open({ table: `${table}_copy`, snapshot: false, timestamps });
        await admin.query(`INSERT INTO ${table}_copy SELECT * FROM ${table} ORDER BY id`);
        expect((await readAll(changes, 3)).rows, `binlog_row_metadata = ${metadata}`).toEqual(expected);
        await changes.close();
        await admin.query(`DROP TABLE ${table}_copy`);
      }
      await admin.query("SET GLOBAL binlog_row_metadata = NO_LOG");
    }
  });

  it("fails to open with a SourceError naming the problem: no such table, a snapshot without an integer key, a bad position", async () => {
    const err = async (p: Promise<unknown>): Promise<string> => {
      const e = await p.then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(SourceError);
      return (e as Error).message;
    };
    expect(await err(open({ table: "no_such_table" }))).toMatch(/MariaDB\/MySQL 127\.0\.0\.1:\d+\/test: table `no_such_table` does not exist/);
    const table = freshName();
    await admin.query(`CREATE TABLE ${table} (code VARCHAR(10) PRIMARY KEY)`);
    expect(await err(open({ table }))).toMatch(/integer primary key.*"code" is varchar.*snapshot: false/);
    const s = await open({ table, snapshot: false });
    await s.close();
    expect(await err(open({ table, snapshot: false }, { offset: 5 }))).toMatch(/a position is \{"file"/);
    expect(await err(open({ table, columns: ["code", "nope"], snapshot: false }))).toMatch(/no column "nope"/);
  });

  it.skipIf(!sharedServer)("on a server with binary logging off (the shared one), says which setting to change", async () => {
    const admin3306 = await createConnection({ uri: SERVICES.mysql.url });
    const table = freshName();
    await admin3306.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
    try {
      const t = mysqlBinlogSource({ url: SERVICES.mysql.url, table, snapshot: false });
      await expect(t.open(undefined)).rejects.toThrow(/binary logging is off \(log_bin = OFF\)/);
      await t.close();
    } finally {
      await admin3306.query(`DROP TABLE ${table}`);
      await admin3306.end();
    }
  });

  it("feeds an OnlineJob: snapshot, inserts and updates while it runs and while it is stopped; a restart resumes from its checkpoint, rows that do not fit are dead-lettered, and the values equal an offline computation", async () => {
    const table = freshName();
    await admin.query(`CREATE TABLE ${table} (id BIGINT AUTO_INCREMENT PRIMARY KEY, user VARCHAR(20) NOT NULL, amount DOUBLE NULL, ts DATETIME(3) NOT NULL, note JSON NULL)`);
    const T0 = Date.UTC(2024, 0, 1);
    const events: Array<{ user: string; amount: number; ts: string }> = [];
    let id = 0;
    const add = async (n: number): Promise<void> => {
      const rows = Array.from({ length: n }, () => {
        const i = id++;
        return { id: i + 1, user: `u${(i * 7) % 5}`, amount: (i % 13) + 0.5, ts: new Date(T0 + i * 1_000).toISOString() };
      });
      for (const r of rows) events.push({ user: r.user, amount: r.amount, ts: r.ts });
      await admin.query(`INSERT INTO ${table} (id, user, amount, ts) VALUES ?`, [rows.map((r) => [r.id, r.user, r.amount, new Date(r.ts)])]);
    };
    /** An update is a new event: the row's new values. */
    const update = async (rowId: number, amount: number): Promise<void> => {
      await admin.query(`UPDATE ${table} SET amount = ? WHERE id = ?`, [amount, rowId]);
      const [rows] = await admin.query<RowDataPacket[]>(`SELECT user, ts FROM ${table} WHERE id = ?`, [rowId]);
      events.push({ user: String(rows[0]?.user), amount, ts: (rows[0]?.ts as Date).toISOString() });
    };
    await add(400);
    const { FeatureStore, OnlineJob, avg, count, dataset, sum, t } = await import("../src/index.js");
    const orders = dataset("orders", { user: t.string(), amount: t.float(), ts: t.timestamp() }, { timestamp: "ts", lateness: "1d" });
    const spend = orders.groupBy("user").aggregate({ n: count({ window: "1d" }), total: sum("amount", { window: "1h" }), mean: avg("amount", { window: "1d" }) }).as("spend");
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "freshet-binlog-job-"));
    const source = (): MysqlBinlogSource => mysqlBinlogSource({ url, table, columns: ["user", "amount", "ts", "note"], timestamps: "iso", batch: 150 });
    const until = async (cond: () => boolean): Promise<void> => {
      const end = Date.now() + 20_000;
      while (!cond()) {
        if (Date.now() > end) throw new Error("timed out");
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      let store = await FeatureStore.open({ dir, clock: "event", state: "checkpoints" });
      await store.apply([orders, spend]);
      let job = await OnlineJob.start(store, [{ dataset: "orders", source: source(), onError: "dead-letter" }], { batchSize: 100, checkpointEveryMs: 50 });
      await add(300);
      await update(5, 100);
      // Two rows that do not fit: an amount the dataset requires is missing, a JSON column does not parse.
      await admin.query(`INSERT INTO ${table} (user, amount, ts) VALUES ('bad', NULL, NOW())`);
      // MariaDB checks JSON columns with a constraint; switched off for this session so a malformed document reaches the binlog.
      await admin.query(`SET SESSION check_constraint_checks = OFF; INSERT INTO ${table} (user, amount, ts, note) VALUES ('bad', 1, NOW(), '{not json'); SET SESSION check_constraint_checks = ON`);
      id += 2;
      await add(100);
      await until(() => job.stats().sources[0]?.read === events.length + 2);
      await job.stop();
      const dead = store.deadLetters("orders");
      expect(dead.map((d) => d.reason)).toEqual(["invalid", "invalid"]);
      expect(dead[0]?.message).toMatch(/amount/);
      expect(dead[1]?.message).toMatch(/column "note" holds JSON that does not parse/);
      await store.close();

      // While the job is down the table goes on changing.
      await add(250);
      await update(410, 7.25);
      store = await FeatureStore.open({ dir, clock: "event", state: "checkpoints" });
      await store.apply([orders, spend]);
      job = await OnlineJob.start(store, [{ dataset: "orders", source: source(), onError: "dead-letter" }], { batchSize: 100, checkpointEveryMs: 50 });
      await add(50);
      await until(() => (store.stats().datasets.orders?.accepted ?? 0) === events.length);
      await job.stop();
      expect(store.stats().datasets.orders?.accepted).toBe(1_102);
      const users = ["u0", "u1", "u2", "u3", "u4"].map((user) => ({ user }));
      const at = T0 + 1_099_000;
      const online = await store.getOnline(spend, users, { at });
      await store.close();

      const offline = await FeatureStore.open({ clock: "event" });
      await offline.apply([orders, spend]);
      await offline.materializeOffline({ orders: events });
      expect(online).toEqual(await offline.getOnline(spend, users, { at }));
      expect(online[0]).toMatchObject({ user: "u0" });
      await offline.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
