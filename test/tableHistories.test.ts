/**
 * The table history conformance suite against memory, Parquet + DuckDB (with
 * the default part size, with small parts, and closed and reopened after every
 * change) and PostgreSQL, plus what is particular to each: the Parquet
 * layout and crash leftovers, PostgreSQL's tables, U+0000 and connection
 * errors.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import type { Row } from "../src/core/schema.js";
import { FreshetError, RequestError, SchemaError, StorageError } from "../src/errors.js";
import { MemoryTableHistory } from "../src/stores/offline/memoryTableHistory.js";
import { folderName, ParquetTableHistory } from "../src/stores/offline/parquetTableHistory.js";
import { PostgresTableHistory } from "../src/stores/offline/postgresTableHistory.js";
import type { TableColumns, TableHistoryBatch, TableHistoryQuery, TableHistoryStore } from "../src/stores/offline/tableHistoryStore.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";
import { batchOf, tableHistoryConformance } from "./tableHistory.conformance.js";

const T = 1_700_000_000_000;
const simple: TableColumns = { keys: [{ name: "user", type: "string" }], features: [{ name: "clicks", type: "number" }] };

async function rejection(p: Promise<unknown>): Promise<FreshetError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FreshetError) return e;
    throw e;
  }
  throw new Error("expected a rejection, but the call succeeded");
}

const postgresUp = await serviceAvailable("postgres");
const root = await mkdtemp(join(tmpdir(), "freshet-table-history-"));
afterAll(() => rm(root, { recursive: true, force: true }));

tableHistoryConformance("memory", async () => new MemoryTableHistory());

tableHistoryConformance("parquet", async () => new ParquetTableHistory(join(root, "default")));

// Parts of 50 rows: the larger cases read across many parts, and appends are split across parts.
tableHistoryConformance("parquet (50-row parts)", async () => new ParquetTableHistory(join(root, "small-parts"), { partRows: 50 }), undefined, { large: false });

/**
 * A Parquet store closed and reopened after every change, so every read of
 * the suite reads what an earlier store instance (an earlier process) wrote.
 */
class ReopenedParquet implements TableHistoryStore {
  readonly kind = "parquet";
  #store: ParquetTableHistory;
  constructor(private readonly dir: string) {
    this.#store = new ParquetTableHistory(dir);
  }
  begin(table: string, columns: TableColumns): Promise<void> {
    return this.#reopenAfter(() => this.#store.begin(table, columns));
  }
  append(table: string, batch: TableHistoryBatch): Promise<void> {
    return this.#reopenAfter(() => this.#store.append(table, batch));
  }
  commit(table: string, marker: string): Promise<void> {
    return this.#reopenAfter(() => this.#store.commit(table, marker));
  }
  marker(table: string): Promise<string | undefined> {
    return this.#store.marker(table);
  }
  query(table: string, q?: TableHistoryQuery): Promise<Row[]> {
    return this.#store.query(table, q);
  }
  drop(table: string): Promise<void> {
    return this.#reopenAfter(() => this.#store.drop(table));
  }
  close(): Promise<void> {
    this.#closed = true;
    return this.#store.close();
  }
  #closed = false;
  async #reopenAfter(op: () => Promise<void>): Promise<void> {
    if (this.#closed) return op();
    try {
      await op();
    } finally {
      await this.#store.close();
      this.#store = new ParquetTableHistory(this.dir);
    }
  }
}

tableHistoryConformance("parquet (reopened after every change)", async () => new ReopenedParquet(join(root, "reopened")));

describe("ParquetTableHistory", () => {
  it("writes <dir>/<table>/part-NNNNNN.parquet and a manifest, with no temporary files, readable by DuckDB", async () => {
    const dir = join(root, "layout");
    const store = new ParquetTableHistory(dir, { partRows: 3 });
    await store.begin("clicks", simple);
    await store.append("clicks", batchOf(simple, [0, 1, 2, 3].map((i) => ({ user: `u${i}`, ts: T + 10 - i, clicks: i }))));
    await store.commit("clicks", "orders@1");
    expect((await readdir(join(dir, "clicks"))).sort()).toEqual(["manifest.json", "part-000001.parquet", "part-000002.parquet"]);
    const manifest: unknown = JSON.parse(await readFile(join(dir, "clicks", "manifest.json"), "utf8"));
    expect(manifest).toEqual({ format: 1, table: "clicks", columns: simple, marker: "orders@1", firstPart: 1 });
    // Positional column names; each part sorted by event time.
    const duck = await DuckDBInstance.create(":memory:");
    const conn = await duck.connect();
    const reader = await conn.runAndReadAll(`SELECT k0, ts, f0, seq FROM read_parquet('${join(dir, "clicks", "part-000001.parquet")}')`);
    expect(reader.getRowsJS()).toEqual([
      ["u2", T + 8, 2, 2 ** 32 + 2],
      ["u1", T + 9, 1, 2 ** 32 + 1],
      ["u0", T + 10, 0, 2 ** 32],
    ]);
    conn.closeSync();
    duck.closeSync();
    await store.close();
  });

  it("keeps appended but uncommitted rows across close, without a marker", async () => {
    const dir = join(root, "uncommitted");
    const a = new ParquetTableHistory(dir);
    await a.begin("t", simple);
    await a.append("t", batchOf(simple, [{ user: "a", ts: T, clicks: 1 }]));
    await a.close();
    const b = new ParquetTableHistory(dir);
    expect(await b.marker("t")).toBeUndefined();
    expect(await b.query("t")).toEqual([{ user: "a", ts: T, clicks: 1 }]);
    await b.close();
  });

  it("gives any table name one folder of its own", async () => {
    expect(folderName("orders_by-user.v2")).toBe("orders_by-user.v2");
    expect(folderName("../../etc")).toBe("%2E.%2F..%2Fetc");
    expect(folderName("a/b c*")).toBe("a%2Fb%20c%2A");
    expect(folderName("é")).toBe("%C3%A9");
    expect(folderName("")).toBe("%");
    const dir = join(root, "names");
    const store = new ParquetTableHistory(dir);
    const names = ["../escape", "a/b", "", "Ünï code", "it's"];
    for (const [i, name] of names.entries()) {
      await store.begin(name, simple);
      await store.append(name, batchOf(simple, [{ user: name, ts: T + i, clicks: i }]));
      await store.commit(name, `m${i}`);
    }
    for (const [i, name] of names.entries()) expect(await store.query(name)).toEqual([{ user: name, ts: T + i, clicks: i }]);
    expect((await readdir(dir)).sort()).toEqual(names.map(folderName).sort());
    await store.close();
  });

  it("ignores and removes what a crash left: temporary files, and old parts under a newer begin", async () => {
    const dir = join(root, "crash");
    const a = new ParquetTableHistory(dir, { partRows: 1 });
    await a.begin("t", simple);
    await a.append("t", batchOf(simple, [{ user: "old", ts: T, clicks: 1 }]));
    await a.append("t", batchOf(simple, [{ user: "old", ts: T + 1, clicks: 2 }]));
    await a.commit("t", "old");
    await a.close();
    // A crash during begin: the new manifest is written, the old parts (1, 2) not yet deleted; and half a part.
    const manifestPath = join(dir, "t", "manifest.json");
    const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as Record<string, unknown>;
    await writeFile(manifestPath, JSON.stringify({ ...manifest, marker: null, firstPart: 3 }));
    await writeFile(join(dir, "t", ".part-000003.parquet.tmp"), "PAR1 half");
    const b = new ParquetTableHistory(dir);
    expect(await b.marker("t")).toBeUndefined();
    expect(await b.query("t")).toEqual([]);
    expect((await readdir(join(dir, "t"))).sort()).toEqual(["manifest.json"]);
    await b.append("t", batchOf(simple, [{ user: "new", ts: T + 5, clicks: 3 }]));
    await b.commit("t", "new");
    expect(await readdir(join(dir, "t"))).toContain("part-000003.parquet");
    expect(await b.query("t")).toEqual([{ user: "new", ts: T + 5, clicks: 3 }]);
    await b.close();
  });

  it("refuses a corrupt manifest with a StorageError naming it", async () => {
    const dir = join(root, "corrupt");
    await mkdir(join(dir, "t"), { recursive: true });
    await writeFile(join(dir, "t", "manifest.json"), "{ not json");
    const store = new ParquetTableHistory(dir);
    const e = await rejection(store.query("t"));
    expect(e).toBeInstanceOf(StorageError);
    expect(e.message).toContain(join(dir, "t", "manifest.json"));
    expect(e.message).toContain("corrupt");
    // begin starts over without reading it.
    await store.begin("t", simple);
    expect(await store.query("t")).toEqual([]);
    await store.close();
  });

  it("refuses a directory DuckDB would read as a glob, and a part size below 1", () => {
    expect(() => new ParquetTableHistory(join(root, "glob[1]"))).toThrow(RequestError);
    expect(() => new ParquetTableHistory(join(root, "ok"), { partRows: 0 })).toThrow(RequestError);
  });
});

describe.skipIf(!postgresUp)("PostgresTableHistory", () => {
  const schema = `freshet_offline_test_${process.pid}_${Date.now()}`;
  const admin = postgres(SERVICES.postgres.url, { max: 1, onnotice: () => undefined });
  afterAll(async () => {
    await admin`DROP SCHEMA IF EXISTS ${admin(schema)} CASCADE`;
    await admin.end();
  });

  tableHistoryConformance("postgres", () => PostgresTableHistory.connect(SERVICES.postgres.url, { schema }));

  it("keeps one typed SQL table per history with an index on (ts, seq), seen by a second connection", async () => {
    const a = await PostgresTableHistory.connect(SERVICES.postgres.url, { schema });
    const b = await PostgresTableHistory.connect(SERVICES.postgres.url, { schema });
    try {
      const cols: TableColumns = {
        keys: [{ name: "user", type: "string" }],
        features: [
          { name: "n", type: "number" },
          { name: "flag", type: "bool" },
          { name: "v", type: "value" },
        ],
      };
      await a.begin("typed", cols);
      await a.append("typed", batchOf(cols, [{ user: "u", ts: T, n: 1, flag: true, v: { a: 1 } }]));
      await a.commit("typed", "m");
      expect(await b.marker("typed")).toBe("m");
      expect(await b.query("typed")).toEqual([{ user: "u", ts: T, n: 1, flag: true, v: { a: 1 } }]);
      const [entry] = await admin`SELECT id FROM ${admin(`${schema}.histories`)} WHERE name = 'typed'`;
      const table = `h${String(entry?.["id"])}`;
      const types = await admin`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ${schema} AND table_name = ${table} ORDER BY ordinal_position`;
      expect(types.map((r) => [r["column_name"], r["data_type"]])).toEqual([
        ["seq", "bigint"],
        ["k0", "text"],
        ["ts", "double precision"],
        ["f0", "double precision"],
        ["f1", "boolean"],
        ["f2", "jsonb"],
      ]);
      const indexes = await admin`SELECT indexdef FROM pg_indexes WHERE schemaname = ${schema} AND tablename = ${table}`;
      expect(indexes.map((r) => String(r["indexdef"]))).toEqual([expect.stringContaining("(ts, seq)")]);
      // begin replaces the SQL table; drop removes it.
      await b.begin("typed", simple);
      const left = await admin`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = ${schema} AND table_name = ${table}`;
      expect(left[0]?.["n"]).toBe(0);
      await b.drop("typed");
      const rows = await admin`SELECT count(*)::int AS n FROM ${admin(`${schema}.histories`)} WHERE name = 'typed'`;
      expect(rows[0]?.["n"]).toBe(0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("refuses U+0000 in text and JSON values with a SchemaError naming the column", async () => {
    const store = await PostgresTableHistory.connect(SERVICES.postgres.url, { schema });
    try {
      const cols: TableColumns = { keys: [{ name: "user", type: "string" }], features: [{ name: "s", type: "string" }, { name: "j", type: "value" }] };
      await store.begin("nul", cols);
      const good = { user: "u", ts: T, s: "x", j: "y" };
      for (const [bad, field] of [
        [{ ...good, s: "a\0b" }, "s"],
        [{ ...good, j: { k: "\0" } }, "j"],
        [{ ...good, user: "\0" }, "user"],
      ] as const) {
        const e = await rejection(store.append("nul", batchOf(cols, [good, bad])));
        expect(e).toBeInstanceOf(SchemaError);
        expect(e.details).toMatchObject({ row: 1, field });
        expect(e.message).toContain("U+0000");
      }
      expect(await store.query("nul")).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("refuses a schema name that is not a plain identifier", async () => {
    const e = await rejection(PostgresTableHistory.connect(SERVICES.postgres.url, { schema: 'x"; DROP TABLE y; --' }));
    expect(e).toBeInstanceOf(RequestError);
    expect(e.details.field).toBe("schema");
  });
});

describe("PostgresTableHistory without a server", () => {
  it("maps a connection failure to a StorageError naming PostgreSQL and the address", async () => {
    const e = await rejection(PostgresTableHistory.connect("postgres://postgres:secret@127.0.0.1:1/nowhere"));
    expect(e).toBeInstanceOf(StorageError);
    expect(e.message).toContain("PostgreSQL");
    expect(e.message).toContain("127.0.0.1:1/nowhere");
    expect(e.message).not.toContain("secret");
  });
});
