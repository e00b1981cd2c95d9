/**
 * The PostgreSQL table source against the real server: the shared stream
 * source conformance suite (INSERT is "produce"), then what only a polled
 * table has: ties on the cursor, microsecond timestamps, rows that arrive
 * late, bad names, and reopening from a saved position.
 */
import postgres from "postgres";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { SourceError } from "../src/errors.js";
import { postgresTableSource, type PostgresTableSourceOptions } from "../src/sources/sql/postgresTableSource.js";
import type { SourcePosition, StreamSource } from "../src/sources/stream/streamSource.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";
import { readN, streamSourceConformance, type TestRow } from "./streamSource.conformance.js";

const available = await serviceAvailable("postgres");
const url = SERVICES.postgres.url;
let made = 0;
const freshName = (): string => `freshet_pg_tsrc_${process.pid}_${Date.now()}_${made++}`;

describe.skipIf(!available)("PostgreSQL table source", () => {
  const admin = postgres(url, { max: 1, onnotice: () => undefined });
  afterAll(async () => {
    await admin.end();
  });

  streamSourceConformance("PostgreSQL table", {
    systemName: /PostgreSQL/,
    unreachable: () => postgresTableSource({ url: "postgres://postgres@127.0.0.1:1/test", table: "nothing", cursor: "id" }),
    async fixture() {
      const table = freshName();
      await admin.unsafe(`CREATE TABLE ${table} (id bigint PRIMARY KEY, "user" text NOT NULL, ts timestamptz NOT NULL)`);
      await admin.unsafe(`CREATE INDEX ON ${table} (ts, id)`);
      return {
        // The suite checks timestamps as ISO text, which is what `timestamps: "iso"` hands out.
        source: () => postgresTableSource({ url, table, cursor: ["ts", "id"], timestamps: "iso", pollMs: 50 }),
        async produce(rows: readonly TestRow[]) {
          await admin`INSERT INTO ${admin(table)} ${admin(rows.map((r) => ({ ...r })), "id", "user", "ts")}`;
        },
        async teardown() {
          await admin.unsafe(`DROP TABLE IF EXISTS ${table}`);
        },
      };
    },
  });

  describe("adapter", () => {
    const tables: string[] = [];
    const sources: StreamSource[] = [];
    afterEach(async () => {
      for (const s of sources.splice(0)) await s.close();
      for (const t of tables.splice(0)) await admin.unsafe(`DROP TABLE IF EXISTS ${t}`);
    });
    async function table(ddl: string): Promise<string> {
      const name = freshName();
      tables.push(name);
      await admin.unsafe(`CREATE TABLE ${name} (${ddl})`);
      return name;
    }
    async function open(o: Omit<PostgresTableSourceOptions, "url">, from?: SourcePosition): Promise<StreamSource> {
      const s = postgresTableSource({ url, pollMs: 50, ...o });
      sources.push(s);
      await s.open(from);
      return s;
    }
    const ids = (rows: readonly unknown[]): number[] => rows.map((r) => (r as { id: number }).id);

    it("reads rows that tie on the cursor column across batch boundaries once each, in (cursor, id) order", async () => {
      const t = await table("id int PRIMARY KEY, updated_at timestamptz NOT NULL, v text NOT NULL");
      // Ten rows share one timestamp, inserted out of id order; two come before, one after.
      await admin.unsafe(`INSERT INTO ${t} VALUES
        (50, '2024-01-01T00:00:00Z', 'first'), (51, '2024-01-01T00:00:01Z', 'second'),
        (9, '2024-01-01T00:00:05Z', 'tie'), (3, '2024-01-01T00:00:05Z', 'tie'), (7, '2024-01-01T00:00:05Z', 'tie'),
        (1, '2024-01-01T00:00:05Z', 'tie'), (8, '2024-01-01T00:00:05Z', 'tie'), (2, '2024-01-01T00:00:05Z', 'tie'),
        (6, '2024-01-01T00:00:05Z', 'tie'), (4, '2024-01-01T00:00:05Z', 'tie'), (10, '2024-01-01T00:00:05Z', 'tie'),
        (5, '2024-01-01T00:00:05Z', 'tie'), (0, '2024-01-01T00:00:09Z', 'last')`);
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
      const t = await table("id int PRIMARY KEY, at timestamptz NOT NULL UNIQUE");
      await admin.unsafe(`INSERT INTO ${t} VALUES (1, '2024-01-01T00:00:00.000100Z'), (2, '2024-01-01T00:00:00.000200Z'), (3, '2024-01-01T00:00:00.000900Z')`);
      const s = await open({ table: t, cursor: "at", timestamps: "ms" });
      const first = await s.next(1, 0);
      expect(first.rows).toEqual([{ id: 1, at: Date.UTC(2024, 0, 1) }]);
      expect(first.position).toEqual(["2024-01-01T00:00:00.000100Z"]);
      expect(ids((await s.next(1, 0)).rows)).toEqual([2]);
      expect(ids((await s.next(5, 0)).rows)).toEqual([3]);
    });

    it("delivers a row inserted later with a later timestamp, holds it back for settleMs, and misses one inserted later with an earlier cursor (the documented limit)", async () => {
      const t = await table("id int PRIMARY KEY, updated_at timestamptz NOT NULL");
      await admin.unsafe(`INSERT INTO ${t} VALUES (1, now() - interval '1 hour'), (2, now() - interval '30 minutes')`);
      const settled = await open({ table: t, cursor: ["updated_at", "id"], settleMs: 1_500 });
      const plain = await open({ table: t, cursor: ["updated_at", "id"] });
      expect(ids((await plain.next(10, 0)).rows)).toEqual([1, 2]);
      expect(ids((await settled.next(10, 0)).rows)).toEqual([1, 2]);

      await admin.unsafe(`INSERT INTO ${t} VALUES (3, clock_timestamp())`);
      expect(ids((await plain.next(10, 2_000)).rows)).toEqual([3]);
      // Younger than settleMs: not yet handed out, then handed out once it is old enough.
      expect((await settled.next(10, 300)).rows).toEqual([]);
      const late = await readN(settled, 1, 10, 40);
      expect(ids(late.rows)).toEqual([3]);

      // A row committed now whose cursor is older than the last one read is never seen by polling.
      await admin.unsafe(`INSERT INTO ${t} VALUES (4, now() - interval '10 minutes'), (5, clock_timestamp() + interval '1 second')`);
      expect(ids((await plain.next(10, 2_000)).rows)).toEqual([5]);
      expect(await plain.lag()).toBe(0);
    });

    it("opened again from a position saved mid-table (through JSON), reads exactly the rest", async () => {
      const t = await table("id bigserial PRIMARY KEY, kind text NOT NULL");
      await admin.unsafe(`INSERT INTO ${t} (kind) SELECT 'k' || (i % 3) FROM generate_series(1, 20) AS i`);
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

    it("orders by a text cursor with an integer tie-breaker, positions taken from the values themselves", async () => {
      const t = await table("id int PRIMARY KEY, code text NOT NULL");
      await admin.unsafe(`INSERT INTO ${t} VALUES (1, 'b'), (2, 'a'), (3, 'b'), (4, 'a b'), (5, 'a')`);
      const s = await open({ table: t, cursor: ["code", "id"] });
      const a = await s.next(2, 0);
      expect(a.rows).toEqual([{ id: 2, code: "a" }, { id: 5, code: "a" }]);
      expect(a.position).toEqual(["a", "5"]);
      const again = await open({ table: t, cursor: ["code", "id"] }, a.position);
      expect((await again.next(10, 0)).rows.map((r) => (r as { code: string }).code)).toEqual(["a b", "b", "b"]);
    });

    it("hands numbers to the dataset as numbers: bigint, numeric, and timestamps without a zone as UTC", async () => {
      const t = await table("id bigint PRIMARY KEY, price numeric(12, 4) NOT NULL, at timestamp NOT NULL, day date NOT NULL");
      await admin.unsafe(`INSERT INTO ${t} VALUES (9007199254740993, 12.5, '2024-03-01 10:20:30.123456', '2024-03-01'), (42, 0.0001, '2024-03-01 10:20:31', '2024-03-02')`);
      const s = await open({ table: t, cursor: "id" });
      const { rows, position } = await s.next(10, 0);
      expect(rows[0]).toEqual({ id: 42, price: 0.0001, at: new Date(Date.UTC(2024, 2, 1, 10, 20, 31)), day: new Date(Date.UTC(2024, 2, 2)) });
      expect(rows[1]).toEqual({ id: 9007199254740993n, price: 12.5, at: new Date(Date.UTC(2024, 2, 1, 10, 20, 30, 123)), day: new Date(Date.UTC(2024, 2, 1)) });
      expect(position).toEqual(["9007199254740993"]);
      const text = await open({ table: t, cursor: "id", decimalsAsText: true, timestamps: "iso", columns: ["price", "at"] });
      expect((await text.next(1, 0)).rows).toEqual([{ price: "0.0001", at: "2024-03-01T10:20:31.000Z" }]);
    });

    it("names the missing table, the missing column, and a cursor that cannot be trusted", async () => {
      const t = await table(`id int PRIMARY KEY, updated_at timestamptz NOT NULL, maybe timestamptz, score float8 NOT NULL, "odd ""name" text NOT NULL`);
      const failure = async (o: Omit<PostgresTableSourceOptions, "url">): Promise<string> => {
        const s = postgresTableSource({ url, ...o });
        sources.push(s);
        const err = await s.open(undefined).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(SourceError);
        return (err as Error).message;
      };
      expect(await failure({ table: "no_such_table_here", cursor: "id" })).toMatch(/PostgreSQL .*table "no_such_table_here" does not exist/);
      expect(await failure({ table: t, cursor: ["updated_at", "idd"] })).toMatch(/has no cursor column "idd" \(its columns: id, updated_at, maybe, score, odd "name\)/);
      expect(await failure({ table: t, cursor: "id", columns: ["id", "nope"] })).toMatch(/has no selected column "nope"/);
      expect(await failure({ table: t, cursor: "updated_at" })).toMatch(/cursor \(updated_at\) of .* is not unique/);
      expect(await failure({ table: t, cursor: ["maybe", "id"] })).toMatch(/cursor column "maybe" .* allows NULL/);
      expect(await failure({ table: t, cursor: ["score", "id"] })).toMatch(/cursor column "score" .* double precision, which cannot order a cursor/);
      expect(await failure({ table: t, cursor: "id", settleMs: 100 })).toMatch(/settleMs needs a timestamp/);
      // A quoted name is read as a name, never as SQL.
      await admin.unsafe(`INSERT INTO ${t} VALUES (1, now(), NULL, 1.5, 'x')`);
      const s = await open({ table: t, cursor: "id", columns: ['odd "name', "score"] });
      expect((await s.next(5, 0)).rows).toEqual([{ 'odd "name': "x", score: 1.5 }]);
    });

    it("reads a table in another schema by the schema option, whatever the search path holds", async () => {
      const schema = freshName();
      await admin.unsafe(`CREATE SCHEMA ${schema}`);
      try {
        await admin.unsafe(`CREATE TABLE ${schema}.events (id int PRIMARY KEY, what text NOT NULL)`);
        await admin.unsafe(`INSERT INTO ${schema}.events VALUES (2, 'in schema'), (1, 'first')`);
        const s = await open({ schema, table: "events", cursor: "id" });
        expect((await s.next(10, 0)).rows).toEqual([{ id: 1, what: "first" }, { id: 2, what: "in schema" }]);
        expect(s.description).toBe(`PostgreSQL 127.0.0.1:5432/test table "${schema}"."events" by (id)`);
        await s.close();
      } finally {
        await admin.unsafe(`DROP SCHEMA ${schema} CASCADE`);
      }
    });

    it("rejects a position of the wrong shape with a message showing the expected one", async () => {
      const t = await table("id int PRIMARY KEY");
      const s = postgresTableSource({ url, table: t, cursor: "id" });
      sources.push(s);
      await expect(s.open(7)).rejects.toThrow(/a position is 1 text value\(s\), one per cursor column \(id\), got 7/);
      // null is the position of an empty table before anything was read: it opens at the start and commits as nothing.
      await s.open(null);
      const empty = await s.next(5, 0);
      expect(empty).toEqual({ rows: [], position: null });
      await s.commit(empty.position);
      expect(s.stats()).toEqual({ read: 0, committed: 0 });
      await admin.unsafe(`INSERT INTO ${t} VALUES (3), (1)`);
      const b = await s.next(5, 0);
      expect(b).toEqual({ rows: [{ id: 1 }, { id: 3 }], position: ["3"] });
      await s.commit(b.position);
      expect(s.stats()).toEqual({ read: 2, committed: 2 });
    });
  });
});
