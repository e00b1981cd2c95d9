import { afterEach, describe, expect, it } from "vitest";
import { SourceError } from "../src/errors.js";
import type { TableSourceOptions } from "../src/sources/sql/keysetPoller.js";
import type { SourcePosition, StreamSource } from "../src/sources/stream/streamSource.js";
import { readN, testRows } from "./streamSource.conformance.js";

/**
 * Column types in one system's SQL, by what the cases need of them. The
 * PostgreSQL and MariaDB/MySQL harnesses each map them to their own types.
 */
export interface TableTypes {
  readonly int: string;
  readonly bigint: string;
  readonly text: string;
  readonly date: string;
  /** An exact decimal with 12 digits, 4 after the point. */
  readonly decimal: string;
  /** A float; spelled as the system's catalog names it, since a cursor error quotes it. */
  readonly double: string;
  /** A BIGINT key the server numbers 1, 2, 3... (PRIMARY KEY is added by the case). */
  readonly serial: string;
  /** A plain event-time column (whole seconds are enough). */
  readonly timestamp: string;
  /** A timestamp with microseconds. */
  readonly timestampMicros: string;
  /** A timestamp with microseconds stored as an instant, converted from the session's zone. */
  readonly zonedTimestampMicros: string;
  /** A timestamp with microseconds and no time zone, which the source reads as UTC. */
  readonly zonelessTimestampMicros: string;
}

/** What the shared table cases need of one SQL system. */
export interface TableSourceHarness {
  /** The system's name as the source's messages give it, e.g. "PostgreSQL". */
  readonly system: string;
  readonly types: TableTypes;
  /** A table name no other test uses. */
  freshName(): string;
  /** Runs one SQL statement (DDL or DML) on the test's own connection, whose session is in UTC. */
  exec(sql: string): Promise<void>;
  /** An identifier quoted for this system's SQL. */
  quote(name: string): string;
  /** A SQL expression for the server's clock, in UTC with microseconds, moved by `ms` (negative: earlier). */
  now(ms: number): string;
  /** The table source of this system on the test database. */
  source(options: TableSourceOptions): StreamSource;
  /** What the source hands out for the BIGINT 9007199254740993 (past 2^53, where a number would lose a digit). */
  readonly bigintPastSafe: unknown;
}

/**
 * The position of a conformance fixture's table (cursor ["ts", "id"]) once the
 * first `n` rows of testRows were read: the last one's cursor values as text.
 */
export function tablePositionAfter(n: number): SourcePosition {
  const last = testRows(1, n - 1)[0]!;
  return [last.ts.replace(/Z$/, "000Z"), String(last.id)];
}

/**
 * The behaviour every polled table source must have beyond the stream source
 * conformance suite: ties on the cursor, microsecond timestamps, rows that
 * arrive late, reopening from a saved position, values, and bad names.
 */
export function tableSourceCases(harness: TableSourceHarness): void {
  const { types: T, quote } = harness;
  const esc = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

  describe(`${harness.system} table source (shared table cases)`, () => {
    const tables: string[] = [];
    const sources: StreamSource[] = [];
    afterEach(async () => {
      for (const s of sources.splice(0)) await s.close();
      for (const t of tables.splice(0)) await harness.exec(`DROP TABLE IF EXISTS ${t}`);
    });
    /** A new table with these column definitions (dropped after the test), and an index on `index` when given. */
    async function table(columns: readonly string[], index?: readonly string[]): Promise<string> {
      const name = harness.freshName();
      tables.push(name);
      await harness.exec(`CREATE TABLE ${name} (${columns.join(", ")})`);
      if (index !== undefined) await harness.exec(`CREATE INDEX ${name}_cursor ON ${name} (${index.join(", ")})`);
      return name;
    }
    async function open(o: TableSourceOptions, from?: SourcePosition): Promise<StreamSource> {
      const s = harness.source({ pollMs: 50, ...o });
      sources.push(s);
      await s.open(from);
      return s;
    }
    const ids = (rows: readonly unknown[]): number[] => rows.map((r) => (r as { id: number }).id);

    it("reads rows that tie on the cursor column across batch boundaries once each, in (cursor, id) order", async () => {
      const t = await table([`id ${T.int} PRIMARY KEY`, `updated_at ${T.timestamp} NOT NULL`, `v ${T.text} NOT NULL`], ["updated_at", "id"]);
      // Ten rows share one timestamp, inserted out of id order; two come before, one after.
      await harness.exec(`INSERT INTO ${t} VALUES
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
      const t = await table([`id ${T.int} PRIMARY KEY`, `at ${T.timestampMicros} NOT NULL UNIQUE`]);
      await harness.exec(`INSERT INTO ${t} VALUES (1, '2024-01-01 00:00:00.000100'), (2, '2024-01-01 00:00:00.000200'), (3, '2024-01-01 00:00:00.000900')`);
      const s = await open({ table: t, cursor: "at", timestamps: "ms" });
      const first = await s.next(1, 0);
      expect(first.rows).toEqual([{ id: 1, at: Date.UTC(2024, 0, 1) }]);
      expect(first.position).toEqual(["2024-01-01T00:00:00.000100Z"]);
      expect(ids((await s.next(1, 0)).rows)).toEqual([2]);
      expect(ids((await s.next(5, 0)).rows)).toEqual([3]);
    });

    it("delivers a row inserted later with a later timestamp, holds it back for settleMs, and misses one inserted later with an earlier cursor (the documented limit)", async () => {
      const t = await table([`id ${T.int} PRIMARY KEY`, `updated_at ${T.zonedTimestampMicros} NOT NULL`]);
      await harness.exec(`INSERT INTO ${t} VALUES (1, ${harness.now(-3_600_000)}), (2, ${harness.now(-1_800_000)})`);
      const settled = await open({ table: t, cursor: ["updated_at", "id"], settleMs: 1_500 });
      const plain = await open({ table: t, cursor: ["updated_at", "id"] });
      expect(ids((await plain.next(10, 0)).rows)).toEqual([1, 2]);
      expect(ids((await settled.next(10, 0)).rows)).toEqual([1, 2]);

      await harness.exec(`INSERT INTO ${t} VALUES (3, ${harness.now(0)})`);
      expect(ids((await plain.next(10, 2_000)).rows)).toEqual([3]);
      // Younger than settleMs: not yet handed out, then handed out once it is old enough.
      expect((await settled.next(10, 300)).rows).toEqual([]);
      const late = await readN(settled, 1, 10, 40);
      expect(ids(late.rows)).toEqual([3]);

      // A row committed now whose cursor is older than the last one read is never seen by polling.
      await harness.exec(`INSERT INTO ${t} VALUES (4, ${harness.now(-600_000)}), (5, ${harness.now(1_000)})`);
      expect(ids((await plain.next(10, 2_000)).rows)).toEqual([5]);
      expect(await plain.lag()).toBe(0);
    });

    it("opened again from a position saved mid-table (through JSON), reads exactly the rest", async () => {
      const t = await table([`id ${T.serial} PRIMARY KEY`, `kind ${T.text} NOT NULL`]);
      await harness.exec(`INSERT INTO ${t} (kind) VALUES ${Array.from({ length: 20 }, (_, i) => `('k${i % 3}')`).join(", ")}`);
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
      const t = await table([`id ${T.int} PRIMARY KEY`, `code ${T.text} NOT NULL`]);
      await harness.exec(`INSERT INTO ${t} VALUES (1, 'b'), (2, 'a'), (3, 'b'), (4, 'a b'), (5, 'a')`);
      const s = await open({ table: t, cursor: ["code", "id"] });
      const a = await s.next(2, 0);
      expect(a.rows).toEqual([{ id: 2, code: "a" }, { id: 5, code: "a" }]);
      expect(a.position).toEqual(["a", "5"]);
      const again = await open({ table: t, cursor: ["code", "id"] }, a.position);
      expect((await again.next(10, 0)).rows.map((r) => (r as { code: string }).code)).toEqual(["a b", "b", "b"]);
    });

    it("hands numbers to the dataset as numbers (big integers, decimals), and timestamps without a zone as UTC", async () => {
      const t = await table([`id ${T.bigint} PRIMARY KEY`, `price ${T.decimal} NOT NULL`, `at ${T.zonelessTimestampMicros} NOT NULL`, `day ${T.date} NOT NULL`]);
      await harness.exec(`INSERT INTO ${t} VALUES (9007199254740993, 12.5, '2024-03-01 10:20:30.123456', '2024-03-01'), (42, 0.0001, '2024-03-01 10:20:31', '2024-03-02')`);
      const s = await open({ table: t, cursor: "id" });
      const { rows, position } = await s.next(10, 0);
      expect(rows[0]).toEqual({ id: 42, price: 0.0001, at: new Date(Date.UTC(2024, 2, 1, 10, 20, 31)), day: new Date(Date.UTC(2024, 2, 2)) });
      // Beyond 2^53 no digit is lost: the driver hands out a bigint or text, as the harness says.
      expect(rows[1]).toEqual({ id: harness.bigintPastSafe, price: 12.5, at: new Date(Date.UTC(2024, 2, 1, 10, 20, 30, 123)), day: new Date(Date.UTC(2024, 2, 1)) });
      expect(position).toEqual(["9007199254740993"]);
      const text = await open({ table: t, cursor: "id", decimalsAsText: true, timestamps: "iso", columns: ["price", "at"] });
      expect((await text.next(1, 0)).rows).toEqual([{ price: "0.0001", at: "2024-03-01T10:20:31.000Z" }]);
    });

    it("names the missing table, the missing column, and a cursor that cannot be trusted", async () => {
      // A column named with the system's own quote character in it.
      const odd = `odd${quote("")[0]}name`;
      const t = await table([
        `id ${T.int} PRIMARY KEY`,
        `updated_at ${T.timestamp} NOT NULL`,
        `maybe ${T.timestamp} NULL`,
        `score ${T.double} NOT NULL`,
        `${quote(odd)} ${T.text} NOT NULL`,
      ]);
      const failure = async (o: TableSourceOptions): Promise<string> => {
        const s = harness.source(o);
        sources.push(s);
        const err = await s.open(undefined).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(SourceError);
        return (err as Error).message;
      };
      expect(await failure({ table: "no_such_table_here", cursor: "id" })).toMatch(new RegExp(`${esc(harness.system)} .*table ${esc(quote("no_such_table_here"))} does not exist`));
      expect(await failure({ table: t, cursor: ["updated_at", "idd"] })).toMatch(new RegExp(`has no cursor column "idd" \\(its columns: id, updated_at, maybe, score, ${esc(odd)}\\)`));
      expect(await failure({ table: t, cursor: "id", columns: ["id", "nope"] })).toMatch(/has no selected column "nope"/);
      expect(await failure({ table: t, cursor: "updated_at" })).toMatch(/cursor \(updated_at\) of .* is not unique/);
      expect(await failure({ table: t, cursor: ["maybe", "id"] })).toMatch(/cursor column "maybe" .* allows NULL/);
      expect(await failure({ table: t, cursor: ["score", "id"] })).toMatch(new RegExp(`cursor column "score" .* ${esc(T.double)}, which cannot order a cursor`));
      expect(await failure({ table: t, cursor: "id", settleMs: 100 })).toMatch(/settleMs needs a timestamp/);
      // A quoted name is read as a name, never as SQL.
      await harness.exec(`INSERT INTO ${t} VALUES (1, ${harness.now(0)}, NULL, 1.5, 'x')`);
      const s = await open({ table: t, cursor: "id", columns: [odd, "score"] });
      expect((await s.next(5, 0)).rows).toEqual([{ [odd]: "x", score: 1.5 }]);
    });

    it("rejects a position of the wrong shape with a message showing the expected one", async () => {
      const t = await table([`id ${T.int} PRIMARY KEY`]);
      const s = harness.source({ table: t, cursor: "id" });
      sources.push(s);
      await expect(s.open(7)).rejects.toThrow(/a position is 1 text value\(s\), one per cursor column \(id\), got 7/);
      // null is the position of an empty table before anything was read: it opens at the start and commits as nothing.
      await s.open(null);
      const empty = await s.next(5, 0);
      expect(empty).toEqual({ rows: [], position: null });
      await s.commit(empty.position);
      expect(s.stats()).toEqual({ read: 0, committed: 0 });
      await harness.exec(`INSERT INTO ${t} VALUES (3), (1)`);
      const b = await s.next(5, 0);
      expect(b).toEqual({ rows: [{ id: 1 }, { id: 3 }], position: ["3"] });
      await s.commit(b.position);
      expect(s.stats()).toEqual({ read: 2, committed: 2 });
    });
  });
}
