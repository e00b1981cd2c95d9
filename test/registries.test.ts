/**
 * The registry conformance suite against both implementations, plus what is
 * particular to each: the file registry's file handling, PostgreSQL's
 * connection errors and writers in separate pools.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { FreshetError, RequestError, StorageError } from "../src/errors.js";
import { FileRegistry, STATS_FLUSH_MS } from "../src/registry/fileRegistry.js";
import { PostgresRegistry } from "../src/registry/postgresRegistry.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";
import { registryConformance } from "./registry.conformance.js";

const postgresUp = await serviceAvailable("postgres");
const dir = await mkdtemp(join(tmpdir(), "freshet-registry-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function rejection(p: Promise<unknown>): Promise<FreshetError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FreshetError) return e;
    throw e;
  }
  throw new Error("expected a rejection, but the call succeeded");
}

describe("FileRegistry", () => {
  const file = join(dir, "registry.json");

  registryConformance(
    "file",
    () => FileRegistry.open(file),
    () => rm(file, { force: true }),
  );

  it("writes the file on each change, with ISO dates, and leaves no temporary files", async () => {
    const path = join(dir, "writes", "registry.json");
    const registry = await FileRegistry.open(path);
    const f = await registry.registerFeature({ name: "age", entity: "user", dataType: "int" });
    const onDisk: unknown = JSON.parse(await readFile(path, "utf8"));
    expect(onDisk).toMatchObject({ format: 1, nextFeatureId: 2, features: [{ id: f.id, name: "age", createdAt: f.createdAt.toISOString(), updatedAt: null }] });
    await registry.registerTable({ name: "t", kind: "table", keys: [], fields: [] });
    await registry.close();
    expect(await readdir(join(dir, "writes"))).toEqual(["registry.json"]);
  });

  it("writes recorded statistics within about a second without a close, and at close", async () => {
    const path = join(dir, "stats-flush.json");
    const registry = await FileRegistry.open(path);
    await registry.registerFeature({ name: "age", entity: "user", dataType: "int" });
    await registry.recordValues("user:age", [1, 2, 3]);
    const statsOnDisk = async (): Promise<unknown> => (JSON.parse(await readFile(path, "utf8")) as { stats: unknown }).stats;
    expect(await statsOnDisk()).toEqual({});
    await new Promise((r) => setTimeout(r, STATS_FLUSH_MS + 300));
    expect(await statsOnDisk()).toMatchObject({ "user:age": { count: 3 } });
    await registry.recordValues("user:age", [4]);
    await registry.close();
    expect(await statsOnDisk()).toMatchObject({ "user:age": { count: 4 } });
    const reopened = await FileRegistry.open(path);
    expect((await reopened.stats("user:age"))?.mean).toBe(2.5);
    await reopened.close();
  });

  it("refuses a corrupt file with a StorageError naming it", async () => {
    const cases: Array<[string, string]> = [
      ["not-json.json", "{ this is not json"],
      ["wrong-shape.json", JSON.stringify({ format: 1, nextFeatureId: 1, features: [{ id: "one" }], entities: [], tables: [], stats: {} })],
      ["bad-date.json", JSON.stringify({ format: 1, nextFeatureId: 2, features: [], entities: [{ name: "u", keyType: "string", version: 1, createdAt: "yesterday", updatedAt: null }], tables: [], stats: {} })],
      ["bad-stats.json", JSON.stringify({ format: 1, nextFeatureId: 1, features: [], entities: [], tables: [], stats: { "user:age": { format: 1, count: 1, nulls: 5, numeric: null } } })],
    ];
    for (const [name, text] of cases) {
      const path = join(dir, name);
      await writeFile(path, text);
      const e = await rejection(FileRegistry.open(path));
      expect(e).toBeInstanceOf(StorageError);
      expect(e.code).toBe("STORAGE_ERROR");
      expect(e.message).toContain(path);
      expect(e.message).toContain("corrupt");
    }
  });

  it("removes temporary files a crash left behind when it opens", async () => {
    const path = join(dir, "crashed", "registry.json");
    const registry = await FileRegistry.open(path);
    await registry.registerEntity({ name: "u", keyType: "string" });
    await registry.close();
    await writeFile(`${path}.0123456789ab.tmp`, '{ "format": 1, "half-writ');
    const reopened = await FileRegistry.open(path);
    expect((await reopened.listEntities()).map((e) => e.name)).toEqual(["u"]);
    expect(await readdir(join(dir, "crashed"))).toEqual(["registry.json"]);
    await reopened.close();
  });

  it("has an in-memory variant that follows the same rules and writes nothing", async () => {
    const registry = FileRegistry.inMemory();
    const f = await registry.registerFeature({ name: "age", entity: "user", dataType: "int" });
    await expect(registry.registerFeature({ name: "age", entity: "user", dataType: "int" })).rejects.toThrow(/"age"/);
    await registry.recordValues("user:age", [1, 3]);
    expect(await registry.findFeature("age")).toStrictEqual(f);
    expect((await registry.stats("user:age"))?.mean).toBe(2);
    expect(registry.path).toBeUndefined();
    await registry.close();
  });

  it("refuses calls after close", async () => {
    const registry = await FileRegistry.open(join(dir, "closed.json"));
    await registry.close();
    await registry.close();
    const e = await rejection(registry.registerEntity({ name: "u", keyType: "string" }));
    expect(e).toBeInstanceOf(StorageError);
    expect(e.message).toContain("closed");
  });
});

describe.skipIf(!postgresUp)("PostgresRegistry", () => {
  const schema = `freshet_test_${process.pid}_${Date.now()}`;
  const admin = postgres(SERVICES.postgres.url, { max: 1, onnotice: () => undefined });
  const dropSchema = async (): Promise<void> => {
    await admin`DROP SCHEMA IF EXISTS ${admin(schema)} CASCADE`;
  };
  afterAll(async () => {
    await dropSchema();
    await admin.end();
  });

  registryConformance("postgres", () => PostgresRegistry.connect(SERVICES.postgres.url, { schema }), dropSchema);

  it("creates its schema and tables, and a second connection sees the first's records", async () => {
    const a = await PostgresRegistry.connect(SERVICES.postgres.url, { schema });
    const b = await PostgresRegistry.connect(SERVICES.postgres.url, { schema });
    try {
      const tables = await admin`SELECT table_name FROM information_schema.tables WHERE table_schema = ${schema} ORDER BY table_name`;
      expect(tables.map((r) => r["table_name"])).toEqual(["entities", "feature_stats", "features", "tables"]);
      const f = await a.registerFeature({ name: "age", entity: "user", dataType: "int" });
      expect(await b.findFeature("age")).toStrictEqual(f);
      // Writers in separate pools merge into one row without losing values.
      const batches = Array.from({ length: 10 }, (_, i) => Array.from({ length: 50 }, (_, j) => i * 50 + j));
      await Promise.all(batches.map((batch, i) => (i % 2 === 0 ? a : b).recordValues("user:age", batch)));
      const stats = await a.stats("user:age");
      expect(stats).toMatchObject({ count: 500, nulls: 0, min: 0, max: 499 });
      // Merge order varies between runs, so the mean may differ in the last bit.
      expect(Math.abs((stats?.mean ?? 0) - 249.5)).toBeLessThan(1e-9);
      expect(stats?.histogram.reduce((sum, bin) => sum + bin.count, 0)).toBe(500);
    } finally {
      await a.close();
      await b.close();
      await dropSchema();
    }
  });

  it("refuses a schema name that is not a plain identifier", async () => {
    const e = await rejection(PostgresRegistry.connect(SERVICES.postgres.url, { schema: 'x"; DROP TABLE y; --' }));
    expect(e).toBeInstanceOf(RequestError);
    expect(e.details.field).toBe("schema");
  });
});

describe("PostgresRegistry without a server", () => {
  it("maps a connection failure to a StorageError naming PostgreSQL and the address", async () => {
    const e = await rejection(PostgresRegistry.connect("postgres://postgres:secret@127.0.0.1:1/nowhere"));
    expect(e).toBeInstanceOf(StorageError);
    expect(e.message).toContain("PostgreSQL");
    expect(e.message).toContain("127.0.0.1:1/nowhere");
    expect(e.message).not.toContain("secret");
  });
});
