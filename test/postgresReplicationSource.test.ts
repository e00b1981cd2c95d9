/**
 * The PostgreSQL logical replication source against a private server with
 * wal_level = logical (test/helpers/privatePostgres.ts; the shared server
 * runs with wal_level = replica): the shared stream source conformance suite
 * (INSERT is "produce"; rows inserted before the first open come from the
 * snapshot), then what only change capture has: the snapshot followed by
 * changes, updates and deletes, resuming mid-transaction and after a crash
 * before commit, an interrupted snapshot resumed while the table changes,
 * other tables, and an OnlineJob fed by the stream.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { count, dataset, forever, sum, t } from "../src/index.js";
import { SourceError } from "../src/errors.js";
import { FeatureStore } from "../src/featureStore/featureStore.js";
import { OnlineJob } from "../src/job/onlineJob.js";
import { postgresReplicationSource, type PostgresReplicationSourceOptions } from "../src/sources/sql/postgresReplicationSource.js";
import { StreamDecodeFailure, type SourcePosition, type StreamSource } from "../src/sources/stream/streamSource.js";
import { privatePostgresAvailable, startPrivatePostgres, type PrivatePostgres } from "./helpers/privatePostgres.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";
import { readN, streamSourceConformance, type StreamFixture, type TestRow } from "./streamSource.conformance.js";

const available = privatePostgresAvailable();
const sharedAvailable = await serviceAvailable("postgres");
let made = 0;
const freshName = (): string => `frepl_${process.pid}_${made++}`;

describe.skipIf(!available)("PostgreSQL logical replication source", () => {
  let server: PrivatePostgres | undefined;
  let admin: postgres.Sql | undefined;
  const db = (): postgres.Sql => {
    if (admin === undefined) throw new Error("server not started");
    return admin;
  };
  const url = (): string => server?.url ?? "";
  beforeAll(async () => {
    server = await startPrivatePostgres();
    admin = postgres(server.url, { max: 2, onnotice: () => undefined, connection: { TimeZone: "UTC" } });
  }, 60_000);
  afterAll(async () => {
    await admin?.end();
    await server?.stop();
  });

  /** Drops a slot once no reader holds it, and the publication and tables. */
  async function dropAll(slot: string, tables: readonly string[]): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const rows = await db()`SELECT active FROM pg_replication_slots WHERE slot_name = ${slot}`;
      if (rows.length === 0) break;
      if (rows[0]?.active === false) {
        await db()`SELECT pg_drop_replication_slot(${slot})`;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await db().unsafe(`DROP PUBLICATION IF EXISTS freshet_${slot}`);
    for (const t of tables) await db().unsafe(`DROP TABLE IF EXISTS ${t}`);
  }

  /** A fresh table and slot; `streamOnly`: the slot is made before anything is produced and opens read what it kept. */
  async function conformanceFixture(streamOnly: boolean): Promise<StreamFixture> {
    const table = freshName();
    const slot = `${table}_slot`;
    await db().unsafe(`CREATE TABLE ${table} (id bigint PRIMARY KEY, "user" text NOT NULL, ts timestamptz NOT NULL)`);
    const options: PostgresReplicationSourceOptions = { url: url(), table, slot, timestamps: "iso", ...(streamOnly ? { snapshot: false } : {}) };
    if (streamOnly) {
      const prime = postgresReplicationSource(options);
      await prime.open(undefined);
      await prime.close();
    }
    return {
      source: () => postgresReplicationSource(options),
      childSource: { factory: "postgresReplicationSource", module: "../src/sources/sql/postgresReplicationSource.ts", options },
      async produce(rows: readonly TestRow[]) {
        await db()`INSERT INTO ${db()(table)} ${db()(rows.map((r) => ({ ...r })), "id", "user", "ts")}`;
      },
      teardown: () => dropAll(slot, [table]),
    };
  }

  streamSourceConformance("PostgreSQL logical replication", {
    systemName: /PostgreSQL/,
    lagUnknown: true,
    unreachable: () => postgresReplicationSource({ url: "postgres://postgres@127.0.0.1:1/test", table: "nothing", slot: "nothing" }),
    fixture: () => conformanceFixture(false),
  });

  // The same suite with every row from the stream: the slot is made before anything is produced,
  // and `snapshot: false` opens read from what it kept (a batch often ends inside a transaction).
  streamSourceConformance("PostgreSQL logical replication, stream only", {
    systemName: /PostgreSQL/,
    lagUnknown: true,
    fixture: () => conformanceFixture(true),
  });

  describe("change capture", () => {
    const sources: StreamSource[] = [];
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const s of sources.splice(0)) await s.close();
      for (const c of cleanups.splice(0)) await c();
    });
    /** A table (columns: id int key, v text, amount numeric) and a slot for it, both dropped after the test. */
    async function table(): Promise<{ name: string; slot: string }> {
      const name = freshName();
      const slot = `${name}_slot`;
      await db().unsafe(`CREATE TABLE ${name} (id int PRIMARY KEY, v text NOT NULL, amount numeric(12, 4))`);
      cleanups.push(() => dropAll(slot, [name]));
      return { name, slot };
    }
    async function open(o: Partial<PostgresReplicationSourceOptions> & { table: string; slot: string }, from?: SourcePosition): Promise<StreamSource> {
      const s = postgresReplicationSource({ url: url(), ...o });
      sources.push(s);
      await s.open(from);
      return s;
    }
    const ids = (rows: readonly unknown[]): number[] => rows.map((r) => (r as { id: number }).id);
    const confirmedFlush = async (slot: string): Promise<string | undefined> =>
      (await db()`SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = ${slot}`)[0]?.lsn as string | undefined;

    it("hands out the snapshot, then inserts, updates as after-images and deletes as the deleted key, each marked by operationField", async () => {
      const { name, slot } = await table();
      await db().unsafe(`INSERT INTO ${name} VALUES (2, 'b', 2.5), (1, 'a', 1.25)`);
      const s = await open({ table: name, slot, deletes: "emit", operationField: "op" });
      const snap = await s.next(10, 0);
      expect(snap.rows).toEqual([
        { id: 1, v: "a", amount: 1.25, op: "snapshot" },
        { id: 2, v: "b", amount: 2.5, op: "snapshot" },
      ]);
      await db().unsafe(`INSERT INTO ${name} VALUES (3, 'c', NULL)`);
      await db().unsafe(`UPDATE ${name} SET v = 'a2', amount = 9 WHERE id = 1`);
      await db().unsafe(`DELETE FROM ${name} WHERE id = 2`);
      const { rows, position } = await readN(s, 3, 10);
      expect(rows).toEqual([
        { id: 3, v: "c", amount: null, op: "insert" },
        { id: 1, v: "a2", amount: 9, op: "update" },
        // The default replica identity sends the key of a deleted row only.
        { id: 2, op: "delete" },
      ]);
      expect(position).toMatchObject({ n: 1 });
      expect((await s.next(10, 200)).rows).toEqual([]);
    });

    it("skips updates and deletes when told to (deletes are skipped by default)", async () => {
      const { name, slot } = await table();
      const s = await open({ table: name, slot, updates: "skip" });
      expect((await s.next(10, 0)).rows).toEqual([]);
      await db().unsafe(`INSERT INTO ${name} VALUES (1, 'a', 1)`);
      await db().unsafe(`UPDATE ${name} SET v = 'x'`);
      await db().unsafe(`DELETE FROM ${name}`);
      await db().unsafe(`INSERT INTO ${name} VALUES (2, 'b', 2)`);
      expect(ids((await readN(s, 2, 10)).rows)).toEqual([1, 2]);
      expect((await s.next(10, 300)).rows).toEqual([]);
    });

    it("ignores other tables of the publication and of the database", async () => {
      const { name, slot } = await table();
      const other = freshName();
      await db().unsafe(`CREATE TABLE ${other} (id int PRIMARY KEY, v text NOT NULL, amount numeric(12, 4))`);
      cleanups.push(() => db().unsafe(`DROP TABLE IF EXISTS ${other}`).then(() => undefined));
      // A publication that also carries the other table.
      await db().unsafe(`CREATE PUBLICATION ${slot}_both FOR TABLE ${name}, ${other}`);
      cleanups.push(() => db().unsafe(`DROP PUBLICATION IF EXISTS ${slot}_both`).then(() => undefined));
      const s = await open({ table: name, slot, publication: `${slot}_both` });
      expect((await s.next(10, 0)).rows).toEqual([]);
      await db().begin(async (tx) => {
        await tx.unsafe(`INSERT INTO ${other} VALUES (100, 'other', 0)`);
        await tx.unsafe(`INSERT INTO ${name} VALUES (1, 'mine', 0)`);
        await tx.unsafe(`INSERT INTO ${other} VALUES (101, 'other', 0)`);
      });
      await db().unsafe(`INSERT INTO ${other} VALUES (102, 'other', 0)`);
      await db().unsafe(`INSERT INTO ${name} VALUES (2, 'mine', 0)`);
      const { rows, position } = await readN(s, 2, 10);
      expect(rows).toEqual([
        { id: 1, v: "mine", amount: 0 },
        { id: 2, v: "mine", amount: 0 },
      ]);
      expect(position).toMatchObject({ n: 1 });
      expect((await s.next(10, 200)).rows).toEqual([]);
    });

    it("resumes inside a transaction cut by a batch, confirms the slot only on commits and one commit behind, skips what the slot sends again after a crash, and fails from a position the slot is past", async () => {
      const { name, slot } = await table();
      const first = await open({ table: name, slot });
      expect((await first.next(10, 0)).rows).toEqual([]);
      const start = await confirmedFlush(slot);
      const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));
      const lsnOf = (p: SourcePosition | undefined): string => (p as { lsn: string }).lsn;
      // Three transactions of five rows each.
      for (const from of [1, 6, 11]) await db().unsafe(`INSERT INTO ${name} SELECT g, 'v', g FROM generate_series(${from}, ${from + 4}) g`);
      const a = await readN(first, 2, 2);
      expect(ids(a.rows)).toEqual([1, 2]);
      expect(a.position).toMatchObject({ n: 2 });
      const b = await readN(first, 5, 5);
      expect(ids(b.rows)).toEqual([3, 4, 5, 6, 7]);
      expect(b.position).toMatchObject({ n: 2 });
      // Nothing is confirmed before a commit: the job owns the position.
      expect(await confirmedFlush(slot)).toBe(start);
      await first.commit(a.position!);
      await settle();
      expect(await confirmedFlush(slot)).toBe(start);
      await first.commit(b.position!);
      await settle();
      // One commit behind: up to the commit of a's transaction, which the slot therefore sends again.
      expect(await confirmedFlush(slot)).toBe(lsnOf(a.position));
      expect(ids((await readN(first, 3, 3)).rows)).toEqual([8, 9, 10]);
      await first.close(); // a crash: rows 8..10 were handed out, never checkpointed

      // From the newest checkpoint (b), or from the one before (a) when the newest is damaged: the rest, once.
      for (const [from, expected] of [
        [b.position, [8, 9, 10, 11, 12, 13, 14, 15]],
        [a.position, [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]],
      ] as const) {
        const again = await open({ table: name, slot }, JSON.parse(JSON.stringify(from)) as SourcePosition);
        expect(ids((await readN(again, expected.length, 4)).rows)).toEqual(expected);
        expect((await again.next(10, 200)).rows).toEqual([]);
        await again.close();
      }

      // A job that went on from b and committed twice: the slot is past a, and an open from a says so.
      const on = await open({ table: name, slot }, b.position);
      const c = await readN(on, 3, 3);
      await on.commit(c.position!);
      const d = await readN(on, 5, 5);
      expect(ids(d.rows)).toEqual([11, 12, 13, 14, 15]);
      await on.commit(d.position!);
      await settle();
      expect(await confirmedFlush(slot)).toBe(lsnOf(c.position));
      await on.close();
      const stale = postgresReplicationSource({ url: url(), table: name, slot });
      sources.push(stale);
      const err = await stale.open(a.position).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SourceError);
      expect(String((err as Error).message)).toMatch(/^PostgreSQL 127\.0\.0\.1:\d+\/test: replication slot "\w+" has confirmed changes up to [0-9A-F/]+, past the saved position/);
      // From the newest position: nothing again, then what comes next.
      const latest = await open({ table: name, slot }, d.position);
      expect((await latest.next(10, 200)).rows).toEqual([]);
      await db().unsafe(`INSERT INTO ${name} VALUES (16, 'v', 16)`);
      expect(ids((await readN(latest, 1)).rows)).toEqual([16]);
    });

    it("resumes an interrupted snapshot while the table changes: rows before the cut come with their changes, rows after it as the new snapshot sees them", async () => {
      const { name, slot } = await table();
      await db().unsafe(`INSERT INTO ${name} SELECT g * 10, 'v' || g * 10, g FROM generate_series(1, 10) g`);
      const first = await open({ table: name, slot, deletes: "emit", operationField: "op" });
      const cut = await readN(first, 4, 4);
      expect(ids(cut.rows)).toEqual([10, 20, 30, 40]);
      await first.close(); // the job dies mid-snapshot; its checkpoint holds rows 10..40
      // Changes made while it is down, on both sides of the cut.
      await db().unsafe(`UPDATE ${name} SET v = 'changed' WHERE id IN (20, 80)`);
      await db().unsafe(`INSERT INTO ${name} VALUES (55, 'v55', 0), (15, 'v15', 0)`);
      await db().unsafe(`DELETE FROM ${name} WHERE id IN (90, 30)`);
      const again = await open({ table: name, slot, deletes: "emit", operationField: "op" }, cut.position);
      const snapshot = await readN(again, 6, 100);
      expect(snapshot.rows.map((r) => `${(r as { op: string }).op} ${(r as { id: number }).id} ${(r as { v: string }).v}`)).toEqual([
        "snapshot 50 v50",
        "snapshot 55 v55",
        "snapshot 60 v60",
        "snapshot 70 v70",
        "snapshot 80 changed",
        "snapshot 100 v100",
      ]);
      // Then the stream: only the changes to rows the first snapshot handed out (or that sort before the cut).
      await db().unsafe(`UPDATE ${name} SET v = 'later' WHERE id = 50`);
      const changes = await readN(again, 4, 100);
      expect(changes.rows.map((r) => `${(r as { op: string }).op} ${(r as { id: number }).id} ${(r as { v?: string }).v ?? "-"}`)).toEqual([
        "update 20 changed",
        "insert 15 v15",
        "delete 30 -",
        "update 50 later",
      ]);
      expect((await again.next(10, 200)).rows).toEqual([]);
      // Once the stream is past the second snapshot, the position no longer carries it.
      expect(changes.position).not.toHaveProperty("resumed");
      // Reopening from a position inside the window still applies it.
      const mid = (await (async () => {
        await again.close();
        const third = await open({ table: name, slot, deletes: "emit", operationField: "op" }, snapshot.position);
        return readN(third, 4, 100);
      })()).rows;
      expect(ids(mid)).toEqual([20, 15, 30, 50]);
    });

    it("resumes a snapshot interrupted twice: each cut keeps the changes to the rows handed out before it, and no more", async () => {
      const { name, slot } = await table();
      await db().unsafe(`INSERT INTO ${name} SELECT g * 10, 'v', g FROM generate_series(1, 10) g`);
      const options = { table: name, slot, deletes: "emit", operationField: "op" } as const;
      const show = (rows: readonly unknown[]): string[] => rows.map((r) => `${(r as { op: string }).op} ${(r as { id: number }).id} ${(r as { v?: string }).v ?? "-"}`);
      const run1 = await open(options);
      const cut1 = await readN(run1, 3, 3);
      expect(ids(cut1.rows)).toEqual([10, 20, 30]);
      await run1.close();
      await db().unsafe(`UPDATE ${name} SET v = 'x1' WHERE id IN (20, 50)`);
      await db().unsafe(`INSERT INTO ${name} VALUES (35, 'v', 0)`);
      const run2 = await open(options, cut1.position);
      const cut2 = await readN(run2, 3, 3);
      expect(show(cut2.rows)).toEqual(["snapshot 35 v", "snapshot 40 v", "snapshot 50 x1"]);
      expect((cut2.position as { resumed: unknown[] }).resumed).toHaveLength(1);
      await run2.close();
      await db().unsafe(`UPDATE ${name} SET v = 'x2' WHERE id IN (20, 40, 70)`);
      await db().unsafe(`DELETE FROM ${name} WHERE id = 100`);
      const run3 = await open(options, cut2.position);
      const rest = await readN(run3, 4, 100);
      expect(show(rest.rows)).toEqual(["snapshot 60 v", "snapshot 70 x2", "snapshot 80 v", "snapshot 90 v"]);
      expect((rest.position as { resumed: unknown[] }).resumed).toHaveLength(2);
      await db().unsafe(`UPDATE ${name} SET v = 'later' WHERE id = 60`);
      const changes = await readN(run3, 4, 100);
      expect(show(changes.rows)).toEqual(["update 20 x1", "update 20 x2", "update 40 x2", "update 60 later"]);
      expect((await run3.next(10, 200)).rows).toEqual([]);
    });

    it("fails the snapshot read with a SourceError when its connection is lost (a reconnect would read outside the snapshot), and a reopen from the last position resumes it", async () => {
      const { name, slot } = await table();
      await db().unsafe(`INSERT INTO ${name} SELECT g, 'v', g FROM generate_series(1, 10) g`);
      const s = await open({ table: name, slot });
      const first = await readN(s, 4, 4);
      expect(ids(first.rows)).toEqual([1, 2, 3, 4]);
      const killed = await db()`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'freshet replication source' AND state = 'idle in transaction'`;
      expect(killed).toHaveLength(1);
      await db().unsafe(`INSERT INTO ${name} VALUES (11, 'after the snapshot', 11)`);
      // Time for the driver to see the connection close, so the next query would go to a new one.
      await new Promise((r) => setTimeout(r, 500));
      const err = await s.next(4, 0).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SourceError);
      expect(String((err as Error).message)).toMatch(/^PostgreSQL 127\.0\.0\.1:\d+\/test: .*snapshot/);
      await s.close();
      const again = await open({ table: name, slot }, first.position);
      expect(ids((await readN(again, 7, 100)).rows)).toEqual([5, 6, 7, 8, 9, 10, 11]);
      expect((await again.next(10, 200)).rows).toEqual([]);
    });

    it("reads values in the snapshot and the stream as the table source does (bigint, numeric, timestamps, json, booleans)", async () => {
      const name = freshName();
      const slot = `${name}_slot`;
      await db().unsafe(
        `CREATE TABLE ${name} (id int PRIMARY KEY, big bigint, dec numeric(20, 4), at timestamptz, local timestamp, day date, flag boolean, doc jsonb, f double precision, tags text[])`,
      );
      cleanups.push(() => dropAll(slot, [name]));
      const values = `9007199254740993, 12.3456, '2024-01-01 00:00:05.123456+00', '2024-01-01 00:00:05.5', '2024-02-03', true, '{"a": [1, 2]}', 0.1, '{x,y}'`;
      await db().unsafe(`INSERT INTO ${name} VALUES (1, ${values})`);
      for (const timestamps of ["date", "iso"] as const) {
        const s = await open({ table: name, slot: `${slot}`, timestamps, columns: ["big", "dec", "at", "local", "day", "flag", "doc", "f", "tags"] });
        const snap = (await s.next(10, 0)).rows[0];
        await db().unsafe(`INSERT INTO ${name} VALUES (${timestamps === "date" ? 2 : 3}, ${values})`);
        const streamed = (await readN(s, 1)).rows[0];
        expect(streamed).toEqual(snap);
        if (timestamps === "iso") {
          expect(snap).toEqual({
            big: 9007199254740993n,
            dec: 12.3456,
            at: "2024-01-01T00:00:05.123Z",
            local: "2024-01-01T00:00:05.500Z",
            day: "2024-02-03T00:00:00.000Z",
            flag: true,
            doc: { a: [1, 2] },
            f: 0.1,
            tags: ["x", "y"],
          });
        }
        await s.close();
      }
    });

    it("with snapshot: false hands out only the changes made after the first open", async () => {
      const { name, slot } = await table();
      await db().unsafe(`INSERT INTO ${name} VALUES (1, 'before', 0)`);
      const s = await open({ table: name, slot, snapshot: false });
      expect((await s.next(10, 100)).rows).toEqual([]);
      await db().unsafe(`INSERT INTO ${name} VALUES (2, 'after', 0)`);
      expect((await readN(s, 1)).rows).toEqual([{ id: 2, v: "after", amount: 0 }]);
    });

    it("reports lagBytes as the WAL written after the commit of the last change handed out (before any, after the slot's start): the server's own figure, growing with unread changes", async () => {
      const { name, slot } = await table();
      // To read the commit record the caught-up figure is made of (PostgreSQL 15 and later).
      const walinspect = (await db()`SELECT 1 FROM pg_available_extensions WHERE name = 'pg_walinspect'`).length > 0;
      if (walinspect) await db()`CREATE EXTENSION IF NOT EXISTS pg_walinspect`;
      const s = await open({ table: name, slot, snapshot: false });
      const lsnOf = (p: SourcePosition | undefined): string => (p as { lsn: string }).lsn;
      const start = lsnOf((await s.next(10, 100)).position);
      expect(start).toBe(await confirmedFlush(slot));
      // The server's own figure: WAL inserted after the LSN (the private server commits asynchronously, so the write LSN trails).
      /** lagBytes and the server's figure taken around it, again until the server wrote no WAL in between. */
      const measure = async (lsn: string): Promise<{ lag: number | undefined; server: number }> => {
        const server = async (): Promise<number> => Number((await db()`SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), ${lsn}::pg_lsn)::text AS b`)[0]?.b);
        for (;;) {
          const before = await server();
          const lag = await s.lagBytes?.();
          if ((await server()) === before) return { lag, server: before };
        }
      };
      const atStart = await measure(start);
      expect(atStart.lag).toBe(atStart.server);
      for (let id = 1; id <= 5; id++) await db().unsafe(`INSERT INTO ${name} VALUES (${id}, 'v', ${id})`);
      const unread = await measure(start);
      expect(unread.lag).toBe(unread.server);
      // Five inserts of a row each, with their commits: over 5 x 100 bytes of WAL.
      expect(unread.lag).toBeGreaterThan(atStart.server + 500);

      const { rows, position } = await readN(s, 5);
      expect(ids(rows)).toEqual([1, 2, 3, 4, 5]);
      const last = lsnOf(position);
      const caughtUp = await measure(last);
      expect(caughtUp.lag).toBe(caughtUp.server);
      // Read everything: what remains starts with the last transaction's commit record, at the position's LSN, and is far less
      // than the five inserts' WAL. The server may log a background record after it (a run read 104 bytes against a commit's
      // 30-odd), so the commit is checked as the first record, not as all that remains.
      expect(caughtUp.lag).toBeGreaterThan(0);
      expect(caughtUp.lag).toBeLessThan(unread.server - atStart.server);
      if (walinspect) {
        const [record] = await db()`SELECT record_type, pg_wal_lsn_diff(start_lsn, ${last}::pg_lsn)::int AS at, pg_wal_lsn_diff(end_lsn, start_lsn)::int AS bytes FROM pg_get_wal_record_info(${last}::pg_lsn)`;
        expect(record?.record_type).toBe("COMMIT");
        expect(record?.at).toBe(0);
        expect(caughtUp.lag).toBeGreaterThanOrEqual(record?.bytes as number);
      }

      await db().unsafe(`INSERT INTO ${name} SELECT g, 'v', g FROM generate_series(6, 105) g`);
      const more = await measure(last);
      expect(more.lag).toBe(more.server);
      expect(more.lag).toBeGreaterThan(caughtUp.server + 100 * 50);
      expect(ids((await readN(s, 100)).rows)).toHaveLength(100);
      await s.close();
      expect(await s.lagBytes?.()).toBeUndefined();
    });

    it("hands out an update that leaves a TOASTed value unchanged as a StreamDecodeFailure naming the column, and goes on", async () => {
      const { name, slot } = await table();
      // About 16 kB of poorly compressible text: stored out of line (TOAST).
      await db().unsafe(`INSERT INTO ${name} SELECT 1, string_agg(md5(g::text), ''), 1 FROM generate_series(1, 500) g`);
      const s = await open({ table: name, slot, columns: ["id", "amount"] });
      expect((await s.next(10, 0)).rows).toEqual([{ id: 1, amount: 1 }]);
      await db().unsafe(`UPDATE ${name} SET amount = 2 WHERE id = 1`);
      await db().unsafe(`INSERT INTO ${name} VALUES (2, 'small', 3)`);
      const { rows } = await readN(s, 2);
      // Only selected columns are checked: v is not among them, so the update reads fine.
      expect(rows).toEqual([{ id: 1, amount: 2 }, { id: 2, amount: 3 }]);

      const all = await open({ table: name, slot: `${slot}_all` });
      cleanups.push(() => dropAll(`${slot}_all`, []));
      expect(ids((await all.next(10, 0)).rows)).toEqual([1, 2]);
      await db().unsafe(`UPDATE ${name} SET amount = 4 WHERE id = 1`);
      await db().unsafe(`INSERT INTO ${name} VALUES (3, 'small', 5)`);
      const next = await readN(all, 2);
      const bad = next.rows[0];
      expect(bad).toBeInstanceOf(StreamDecodeFailure);
      expect((bad as StreamDecodeFailure).reason).toMatch(/column "v" is an unchanged TOASTed value .*REPLICA IDENTITY FULL/);
      expect((bad as StreamDecodeFailure).at).toMatch(/^[0-9A-F]+\/[0-9A-F]+#1$/);
      expect(next.rows[1]).toEqual({ id: 3, v: "small", amount: 5 });
    });

    it("fails the next read with a SourceError naming PostgreSQL and the address when the server ends the stream", async () => {
      const { name, slot } = await table();
      const s = await open({ table: name, slot });
      expect((await s.next(10, 100)).rows).toEqual([]);
      await db()`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = ${slot}`;
      const err = await (async () => {
        for (let i = 0; i < 40; i++) await s.next(10, 100);
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SourceError);
      expect(String((err as Error).message)).toMatch(/^PostgreSQL 127\.0\.0\.1:\d+\/test: streaming changes failed: /);
    });

    it("keeps a durable slot on close, drops it with dropSlotOnClose, and fails with a SourceError for a table without a primary key", async () => {
      const { name, slot } = await table();
      const s = await open({ table: name, slot });
      await s.close();
      expect(await confirmedFlush(slot)).toBeDefined();
      const d = await open({ table: name, slot, dropSlotOnClose: true });
      await d.close();
      expect(await confirmedFlush(slot)).toBeUndefined();

      const bare = freshName();
      await db().unsafe(`CREATE TABLE ${bare} (id int, v text)`);
      cleanups.push(() => db().unsafe(`DROP TABLE IF EXISTS ${bare}`).then(() => undefined));
      const err = await postgresReplicationSource({ url: url(), table: bare, slot: `${bare}_slot` })
        .open(undefined)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(SourceError);
      expect(String((err as Error).message)).toMatch(/has no primary key/);
    });
  });

  describe("OnlineJob", () => {
    const clicks = dataset("clicks", { id: t.int(), user: t.string(), amount: t.float(), at: t.timestamp() }, { timestamp: "at" });
    const perUser = clicks.groupBy("user").aggregate({ n: count({ window: forever() }), total: sum("amount", { window: "1h" }) }).as("per_user");
    const T0 = Date.UTC(2024, 0, 1);
    const events = (from: number, n: number): Array<{ id: number; user: string; amount: number; at: string }> =>
      Array.from({ length: n }, (_, k) => {
        const i = from + k;
        return { id: i, user: `u${(i * 7) % 5}`, amount: (i % 13) + 0.5, at: new Date(T0 + i * 1_000).toISOString() };
      });
    const users = ["u0", "u1", "u2", "u3", "u4"].map((user) => ({ user }));

    async function until(cond: () => boolean, ms = 20_000): Promise<void> {
      const end = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > end) throw new Error("timed out");
        await new Promise((r) => setTimeout(r, 20));
      }
    }

    it("runs from the snapshot and the stream, restarts from its checkpoint, and ends with the values an offline computation gives", async () => {
      const name = freshName();
      const slot = `${name}_slot`;
      const dir = mkdtempSync(join(tmpdir(), "freshet-pgrepl-job-"));
      await db().unsafe(`CREATE TABLE ${name} (id int PRIMARY KEY, "user" text NOT NULL, amount double precision NOT NULL, at timestamptz NOT NULL)`);
      const insert = async (rows: ReturnType<typeof events>): Promise<void> => {
        await db()`INSERT INTO ${db()(name)} ${db()(rows, "id", "user", "amount", "at")}`;
      };
      const source = (): StreamSource => postgresReplicationSource({ url: url(), table: name, slot });
      const all = events(0, 3_000);
      try {
        await insert(all.slice(0, 1_000)); // the snapshot
        let store = await FeatureStore.open({ dir, clock: "event", state: "checkpoints" });
        await store.apply([clicks, perUser]);
        let job = await OnlineJob.start(store, [{ dataset: "clicks", source: source() }], { batchSize: 300, checkpointEveryMs: 50 });
        for (let i = 1_000; i < 2_000; i += 250) await insert(all.slice(i, i + 250)); // the stream, while it runs
        await until(() => job.stats().sources[0]?.read === 2_000);
        await job.stop();
        await store.close();

        await insert(all.slice(2_000)); // while the job is down
        store = await FeatureStore.open({ dir, clock: "event", state: "checkpoints" });
        await store.apply([clicks, perUser]);
        expect(store.stats().datasets.clicks?.accepted).toBe(2_000);
        job = await OnlineJob.start(store, [{ dataset: "clicks", source: source() }], { batchSize: 300 });
        await until(() => job.stats().sources[0]?.read === 1_000);
        await new Promise((r) => setTimeout(r, 300));
        await job.stop();
        expect(store.stats().datasets.clicks?.accepted).toBe(3_000);
        const at = T0 + 2_999_000;
        const online = await store.getOnline(perUser, users, { at });
        await store.close();

        const offline = await FeatureStore.open({ clock: "event" });
        await offline.apply([clicks, perUser]);
        await offline.materializeOffline({ clicks: all });
        expect(online).toEqual(await offline.getOnline(perUser, users, { at }));
        await offline.close();
        expect(online[0]).toMatchObject({ user: "u0", n: 600 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
        await dropAll(slot, [name]);
      }
    }, 60_000);
  });
});

describe.skipIf(!sharedAvailable)("PostgreSQL logical replication source on a server without wal_level = logical", () => {
  it("fails to open with a SourceError saying what to set, before creating a publication or a slot", async () => {
    const admin = postgres(SERVICES.postgres.url, { max: 1, onnotice: () => undefined });
    const table = freshName();
    try {
      await admin.unsafe(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
      const s = postgresReplicationSource({ url: SERVICES.postgres.url, table, slot: `${table}_slot` });
      const err = await s.open(undefined).then(
        () => undefined,
        (e: unknown) => e,
      );
      await s.close();
      expect(err).toBeInstanceOf(SourceError);
      expect(String((err as Error).message)).toBe(
        "PostgreSQL 127.0.0.1:5432/test: logical replication needs wal_level = logical, and this server has replica; set it in postgresql.conf (with max_replication_slots and max_wal_senders) and restart the server",
      );
      expect(await admin`SELECT 1 FROM pg_publication WHERE pubname = ${`freshet_${table}_slot`}`).toHaveLength(0);
    } finally {
      await admin.unsafe(`DROP TABLE IF EXISTS ${table}`);
      await admin.end();
    }
  });
});
