/**
 * The PostgreSQL table source against the real server: the shared stream
 * source conformance suite (INSERT is "produce"), then the cases shared by
 * the polled table sources (test/tableSource.cases.ts): ties on the cursor,
 * microsecond timestamps, rows that arrive late, bad names, reopening from a
 * saved position; and what only PostgreSQL has: schemas.
 */
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { postgresTableSource, type PostgresTableSourceOptions } from "../src/sources/sql/postgresTableSource.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";
import { streamSourceConformance, type TestRow } from "./streamSource.conformance.js";
import { tablePositionAfter, tableSourceCases } from "./tableSource.cases.js";

const available = await serviceAvailable("postgres");
const url = SERVICES.postgres.url;
let made = 0;
const freshName = (): string => `freshet_pg_tsrc_${process.pid}_${Date.now()}_${made++}`;

describe.skipIf(!available)("PostgreSQL table source", () => {
  const admin = postgres(url, { max: 1, onnotice: () => undefined, connection: { TimeZone: "UTC" } });
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
      // The suite checks timestamps as ISO text, which is what `timestamps: "iso"` hands out.
      const options: PostgresTableSourceOptions = { url, table, cursor: ["ts", "id"], timestamps: "iso", pollMs: 50 };
      return {
        source: () => postgresTableSource(options),
        childSource: { factory: "postgresTableSource", module: "../src/sources/sql/postgresTableSource.ts", options },
        positionAfter: tablePositionAfter,
        async produce(rows: readonly TestRow[]) {
          await admin`INSERT INTO ${admin(table)} ${admin(rows.map((r) => ({ ...r })), "id", "user", "ts")}`;
        },
        async teardown() {
          await admin.unsafe(`DROP TABLE IF EXISTS ${table}`);
        },
      };
    },
  });

  tableSourceCases({
    system: "PostgreSQL",
    types: {
      int: "int",
      bigint: "bigint",
      text: "text",
      date: "date",
      decimal: "numeric(12, 4)",
      double: "double precision",
      serial: "bigserial",
      timestamp: "timestamptz",
      timestampMicros: "timestamptz",
      zonedTimestampMicros: "timestamptz",
      zonelessTimestampMicros: "timestamp",
    },
    freshName,
    async exec(sql) {
      await admin.unsafe(sql);
    },
    quote: (name) => `"${name.replaceAll('"', '""')}"`,
    now: (ms) => (ms === 0 ? "clock_timestamp()" : `clock_timestamp() + interval '${ms} milliseconds'`),
    source: (o) => postgresTableSource({ url, ...o }),
    // bigint columns come as numbers while they are safe integers, as a bigint beyond.
    bigintPastSafe: 9007199254740993n,
  });

  describe("adapter", () => {
    it("reads a table in another schema by the schema option, whatever the search path holds", async () => {
      const schema = freshName();
      const s = postgresTableSource({ url, pollMs: 50, schema, table: "events", cursor: "id" });
      await admin.unsafe(`CREATE SCHEMA ${schema}`);
      try {
        await admin.unsafe(`CREATE TABLE ${schema}.events (id int PRIMARY KEY, what text NOT NULL)`);
        await admin.unsafe(`INSERT INTO ${schema}.events VALUES (2, 'in schema'), (1, 'first')`);
        await s.open(undefined);
        expect((await s.next(10, 0)).rows).toEqual([{ id: 1, what: "first" }, { id: 2, what: "in schema" }]);
        expect(s.description).toBe(`PostgreSQL 127.0.0.1:5432/test table "${schema}"."events" by (id)`);
      } finally {
        await s.close();
        await admin.unsafe(`DROP SCHEMA ${schema} CASCADE`);
      }
    });
  });
});
