/**
 * One suite every Registry implementation passes (src/registry/registry.ts).
 * `open` opens the implementation on its storage, as a process would at start;
 * opening again after close must see what was stored. `cleanup` removes
 * everything stored, and runs after each case, so cases start empty.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConflictError, FreshetError, RequestError } from "../src/errors.js";
import { statsOf } from "../src/registry/featureStats.js";
import type { EntitySpec, FeatureSpec, FeatureStats, Registry, TableSpec } from "../src/registry/registry.js";
import { mulberry32 } from "../src/sources/generator/generatorSource.js";

const age: FeatureSpec = { name: "age", entity: "user", dataType: "int" };
const clicks: FeatureSpec = { name: "clicks_1h", entity: "user", dataType: "float", featureGroup: "user_activity" };
const price: FeatureSpec = { name: "price", entity: "item", dataType: "float" };
const user: EntitySpec = { name: "user", keyType: "string" };
const orders: TableSpec = {
  name: "orders",
  kind: "dataset",
  keys: [{ name: "user_id", type: "string" }],
  fields: [
    { name: "amount", type: "float" },
    { name: "ts", type: "timestamp" },
  ],
};

/** Awaits `p` and returns what it rejected with; fails the test when it resolves. */
async function rejection(p: Promise<unknown>): Promise<FreshetError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FreshetError) return e;
    throw e;
  }
  throw new Error("expected a rejection, but the call succeeded");
}

/** Count, nulls, min, max, mean and population stddev computed directly, in two passes. */
function directStats(values: readonly unknown[]): Omit<FeatureStats, "histogram"> {
  const xs = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const nulls = values.filter((v) => v === null || v === undefined).length;
  if (xs.length === 0) return { count: values.length, nulls, min: null, max: null, mean: null, stddev: null };
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const stddev = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
  return { count: values.length, nulls, min: Math.min(...xs), max: Math.max(...xs), mean, stddev };
}

function expectStatsOf(stats: FeatureStats | undefined, values: readonly unknown[]): void {
  const d = directStats(values);
  expect(stats).toBeDefined();
  if (stats === undefined) return;
  expect({ count: stats.count, nulls: stats.nulls, min: stats.min, max: stats.max }).toEqual({ count: d.count, nulls: d.nulls, min: d.min, max: d.max });
  expect(Math.abs((stats.mean ?? Number.NaN) - (d.mean ?? Number.NaN))).toBeLessThanOrEqual(1e-9);
  expect(Math.abs((stats.stddev ?? Number.NaN) - (d.stddev ?? Number.NaN))).toBeLessThanOrEqual(1e-9);
  const numeric = values.filter((v) => typeof v === "number" && Number.isFinite(v)).length;
  expect(stats.histogram.reduce((s, b) => s + b.count, 0)).toBe(numeric);
  // The histogram rule makes the bins a function of the values alone.
  expect(stats.histogram).toEqual(statsOf(values).histogram);
}

/** Mixed values: numbers around 40 with a spread, nulls, and a few non-numeric ones. */
function sampleValues(seed: number, n: number): unknown[] {
  const random = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => {
    if (i % 17 === 3) return null;
    if (i % 23 === 5) return "n/a";
    if (i % 29 === 7) return true;
    return Math.round((40 + (random() - 0.5) * 60) * 1000) / 1000;
  });
}

export function registryConformance(name: string, open: () => Promise<Registry>, cleanup: () => Promise<void>): void {
  describe(`${name} registry conformance`, () => {
    let registry: Registry;

    beforeEach(async () => {
      registry = await open();
    });

    afterEach(async () => {
      await registry.close();
      await cleanup();
    });

    describe("features", () => {
      it("registers, gets, finds and lists features; view is featureGroup ?? entity", async () => {
        const a = await registry.registerFeature(age);
        const b = await registry.registerFeature(clicks);
        const c = await registry.registerFeature(price);
        expect(a).toMatchObject({ ...age, version: 1, view: "user", updatedAt: null });
        expect(b).toMatchObject({ ...clicks, version: 1, view: "user_activity", updatedAt: null });
        expect(c.view).toBe("item");
        expect(a.createdAt).toBeInstanceOf(Date);
        expect(new Set([a.id, b.id, c.id]).size).toBe(3);
        for (const id of [a.id, b.id, c.id]) expect(Number.isSafeInteger(id)).toBe(true);

        expect(await registry.getFeature(a.id)).toStrictEqual(a);
        expect(await registry.findFeature("clicks_1h")).toStrictEqual(b);
        expect(await registry.findFeature("missing")).toBeUndefined();
        expect(await registry.getFeature(Math.max(a.id, b.id, c.id) + 1000)).toBeUndefined();

        expect(await registry.listFeatures()).toStrictEqual([a, b, c].sort((x, y) => x.id - y.id));
        expect((await registry.listFeatures({ entity: "user" })).map((f) => f.name)).toEqual(["age", "clicks_1h"]);
        expect((await registry.listFeatures({ view: "user" })).map((f) => f.name)).toEqual(["age"]);
        expect((await registry.listFeatures({ view: "user_activity" })).map((f) => f.name)).toEqual(["clicks_1h"]);
        expect((await registry.listFeatures({ entity: "user", view: "user_activity" })).map((f) => f.name)).toEqual(["clicks_1h"]);
        expect(await registry.listFeatures({ entity: "item", view: "user" })).toEqual([]);
      });

      it("deletes a feature, returns it, keeps the other ids and never reuses the deleted one", async () => {
        const a = await registry.registerFeature(age);
        const b = await registry.registerFeature(clicks);
        const c = await registry.registerFeature(price);
        expect(await registry.deleteFeature(b.id)).toStrictEqual(b);
        expect(await registry.getFeature(b.id)).toBeUndefined();
        expect(await registry.findFeature("clicks_1h")).toBeUndefined();
        expect(await registry.deleteFeature(b.id)).toBeUndefined();
        expect(await registry.listFeatures()).toStrictEqual([a, c]);
        expect(await registry.getFeature(a.id)).toStrictEqual(a);

        const d = await registry.registerFeature({ ...clicks, name: "clicks_24h" });
        expect([a.id, b.id, c.id]).not.toContain(d.id);
        // The same name again is a new feature: it gets a new id.
        const again = await registry.registerFeature(clicks);
        expect([a.id, b.id, c.id, d.id]).not.toContain(again.id);
      });

      it("refuses a duplicate name with a ConflictError naming the feature, and keeps the stored record", async () => {
        const a = await registry.registerFeature({ ...age, description: "age in years" });
        for (const spec of [age, { ...age, dataType: "float" as const, version: 1 }]) {
          const e = await rejection(registry.registerFeature(spec));
          expect(e).toBeInstanceOf(ConflictError);
          expect(e.code).toBe("CONFLICT");
          expect(e.message).toContain('"age"');
          expect(e.message).toMatch(/version 2/);
        }
        expect(await registry.findFeature("age")).toStrictEqual(a);
        expect(await registry.listFeatures()).toStrictEqual([a]);
      });

      it("replaces the definition when the version is higher: same id, createdAt kept, updatedAt set", async () => {
        const a = await registry.registerFeature(age);
        await registry.registerFeature(price);
        const replaced = await registry.registerFeature({ ...age, dataType: "float", featureGroup: "demographics", ttlSeconds: 3600, version: 2 });
        expect(replaced).toMatchObject({ id: a.id, name: "age", dataType: "float", view: "demographics", ttlSeconds: 3600, version: 2 });
        expect(replaced.createdAt).toEqual(a.createdAt);
        expect(replaced.updatedAt).toBeInstanceOf(Date);
        expect(replaced.updatedAt?.getTime()).toBeGreaterThanOrEqual(a.createdAt.getTime());
        expect(await registry.getFeature(a.id)).toStrictEqual(replaced);
        expect((await registry.listFeatures()).map((f) => [f.name, f.version])).toEqual([
          ["age", 2],
          ["price", 1],
        ]);
        // Fields absent from the new definition are gone, not inherited.
        const plain = await registry.registerFeature({ ...age, version: 5 });
        expect(plain).toStrictEqual({ ...age, id: a.id, version: 5, view: "user", createdAt: a.createdAt, updatedAt: plain.updatedAt });
      });

      it("refuses a lower or equal version, naming the stored version", async () => {
        const stored = await registry.registerFeature({ ...age, version: 3 });
        for (const version of [2, 3]) {
          const e = await rejection(registry.registerFeature({ ...age, dataType: "string", version }));
          expect(e).toBeInstanceOf(ConflictError);
          expect(e.message).toContain('"age"');
          expect(e.message).toContain("version 3");
          expect(e.message).toContain("version 4 or higher");
        }
        expect(await registry.findFeature("age")).toStrictEqual(stored);
      });

      it("lets exactly one of concurrent first registrations of a name win", async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) => registry.registerFeature({ ...age, description: `attempt ${i}` })),
        );
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        expect(won.length).toBe(1);
        for (const r of lost) expect(r.reason).toBeInstanceOf(ConflictError);
        expect((await registry.listFeatures()).length).toBe(1);
      });
    });

    describe("entities", () => {
      it("refuses a keyType change unless the version is raised", async () => {
        const first = await registry.registerEntity({ ...user, description: "a person" });
        expect(first).toMatchObject({ name: "user", keyType: "string", description: "a person", version: 1, updatedAt: null });

        const e = await rejection(registry.registerEntity({ ...user, keyType: "int" }));
        expect(e).toBeInstanceOf(ConflictError);
        expect(e.code).toBe("CONFLICT");
        expect(e.message).toContain('"user"');
        expect(e.message).toContain("keyType changed from string to int");
        expect(e.message).toContain("version");
        expect(await registry.listEntities()).toStrictEqual([first]);

        const raised = await registry.registerEntity({ ...user, keyType: "int", version: 2 });
        expect(raised).toMatchObject({ name: "user", keyType: "int", version: 2 });
        expect(raised.description).toBeUndefined();
        expect(raised.createdAt).toEqual(first.createdAt);
        expect(raised.updatedAt).toBeInstanceOf(Date);
        expect(await registry.listEntities()).toStrictEqual([raised]);
      });

      it("updates metadata at the same version, returns the stored record for an identical registration, refuses an older version", async () => {
        const first = await registry.registerEntity(user);
        expect(await registry.registerEntity(user)).toStrictEqual(first);
        const described = await registry.registerEntity({ ...user, owner: "growth", tags: { tier: "gold" } });
        expect(described).toMatchObject({ name: "user", keyType: "string", owner: "growth", tags: { tier: "gold" }, version: 1 });
        expect(described.updatedAt).toBeInstanceOf(Date);
        await registry.registerEntity({ ...user, version: 4 });
        const e = await rejection(registry.registerEntity({ ...user, version: 2 }));
        expect(e).toBeInstanceOf(ConflictError);
        expect(e.message).toContain("version 4");
        const item = await registry.registerEntity({ name: "item", keyType: "int" });
        expect((await registry.listEntities()).map((x) => [x.name, x.version])).toEqual([
          ["item", 1],
          ["user", 4],
        ]);
        expect((await registry.listEntities())[0]).toStrictEqual(item);
      });
    });

    describe("tables", () => {
      it("refuses a key type change, explaining the key, both types and the version to use", async () => {
        const first = await registry.registerTable(orders);
        expect(first).toMatchObject({ ...orders, version: 1, updatedAt: null });
        const e = await rejection(registry.registerTable({ ...orders, keys: [{ name: "user_id", type: "int" }] }));
        expect(e).toBeInstanceOf(ConflictError);
        expect(e.code).toBe("CONFLICT");
        expect(e.message).toContain('"orders"');
        expect(e.message).toContain('key "user_id" changed type from string to int');
        expect(e.message).toContain("version");
        expect(e.message).toContain("2 or higher");
        const added = await rejection(registry.registerTable({ ...orders, keys: [...orders.keys, { name: "order_id", type: "int" }] }));
        expect(added.message).toContain('key "order_id" (int) was added');
        expect(await registry.getTable("orders")).toStrictEqual(first);
      });

      it("accepts field changes at the same version and key changes with a raised version", async () => {
        const first = await registry.registerTable(orders);
        const fields = [...orders.fields, { name: "currency", type: "string" }];
        const widened = await registry.registerTable({ ...orders, fields });
        expect(widened).toMatchObject({ name: "orders", fields, keys: orders.keys, version: 1 });
        expect(widened.createdAt).toEqual(first.createdAt);
        expect(widened.updatedAt).toBeInstanceOf(Date);
        expect(await registry.getTable("orders")).toStrictEqual(widened);

        const rekeyed = await registry.registerTable({ ...orders, keys: [{ name: "user_id", type: "int" }], version: 2 });
        expect(rekeyed).toMatchObject({ keys: [{ name: "user_id", type: "int" }], fields: orders.fields, version: 2 });
        expect(await registry.getTable("orders")).toStrictEqual(rekeyed);
        expect(await registry.registerTable({ ...orders, keys: [{ name: "user_id", type: "int" }], version: 2 })).toStrictEqual(rekeyed);
      });

      it("lists tables by name and deletes them", async () => {
        const o = await registry.registerTable(orders);
        const u = await registry.registerTable({ name: "user_stats", kind: "table", keys: [{ name: "user_id", type: "string" }], fields: [] });
        const a = await registry.registerTable({ name: "accounts", kind: "onDemand", keys: [], fields: [{ name: "x", type: "int" }] });
        expect(await registry.listTables()).toStrictEqual([a, o, u]);
        expect(await registry.deleteTable("orders")).toStrictEqual(o);
        expect(await registry.getTable("orders")).toBeUndefined();
        expect(await registry.deleteTable("orders")).toBeUndefined();
        expect(await registry.listTables()).toStrictEqual([a, u]);
      });
    });

    it("round-trips metadata exactly, and leaves absent fields absent", async () => {
      const full: FeatureSpec = {
        name: "spend_7d",
        entity: "user",
        dataType: "float",
        featureGroup: "spend",
        ttlSeconds: 86_400,
        isNullable: false,
        source: "orders",
        transformation: "sum(amount) over 7d",
        description: 'Total "spend"\nover a week — in €',
        owner: "ml-platform",
        tags: { team: "growth", pii: "no", "a key": "ünïcödé" },
      };
      const f = await registry.registerFeature(full);
      expect(f).toStrictEqual({ ...full, id: f.id, version: 1, view: "spend", createdAt: f.createdAt, updatedAt: null });
      expect(await registry.getFeature(f.id)).toStrictEqual(f);
      const bare = await registry.registerFeature(age);
      expect(await registry.getFeature(bare.id)).toStrictEqual({ ...age, id: bare.id, version: 1, view: "user", createdAt: bare.createdAt, updatedAt: null });
      const emptyTags = await registry.registerFeature({ ...price, description: "", tags: {} });
      expect(await registry.getFeature(emptyTags.id)).toMatchObject({ description: "", tags: {} });

      const entity: EntitySpec = { name: "merchant", keyType: "int", description: "a shop", owner: "payments", tags: { region: "eu" }, version: 3 };
      const e = await registry.registerEntity(entity);
      expect(e).toStrictEqual({ ...entity, createdAt: e.createdAt, updatedAt: null });
      expect(await registry.listEntities()).toStrictEqual([e]);

      const table: TableSpec = { ...orders, ttlSeconds: 3_600, description: "orders as placed", owner: "checkout", tags: { source: "kafka" }, version: 2 };
      const t = await registry.registerTable(table);
      expect(t).toStrictEqual({ ...table, createdAt: t.createdAt, updatedAt: null });
      expect(await registry.getTable("orders")).toStrictEqual(t);
    });

    describe("statistics", () => {
      it("gives over several calls the statistics of one direct computation", async () => {
        const values = sampleValues(7, 500);
        const parts = [values.slice(0, 1), values.slice(1, 120), values.slice(120, 121), values.slice(121, 400), values.slice(400)];
        for (const part of parts) await registry.recordValues("user:age", part);
        expectStatsOf(await registry.stats("user:age"), values);
        expect(await registry.stats("user:missing")).toBeUndefined();
      });

      it("counts non-numeric values and nulls only, and creates nothing for an empty batch", async () => {
        await registry.recordValues("user:name", ["ann", null, "bo", undefined, [1, 2], false]);
        expect(await registry.stats("user:name")).toEqual({ count: 6, nulls: 2, min: null, max: null, mean: null, stddev: null, histogram: [] });
        await registry.recordValues("user:nothing", []);
        expect(await registry.stats("user:nothing")).toBeUndefined();
      });

      it("loses nothing to concurrent writers", async () => {
        const batches = Array.from({ length: 8 }, (_, i) => sampleValues(100 + i, 60));
        await Promise.all(batches.map((b) => registry.recordValues("item:price", b)));
        expectStatsOf(await registry.stats("item:price"), batches.flat());
      });

      it("removes the statistics of a deleted feature (reference view:name) and keeps the others'", async () => {
        const b = await registry.registerFeature(clicks);
        const a = await registry.registerFeature(age);
        await registry.recordValues(`${b.view}:${b.name}`, [1, 2, 3]);
        await registry.recordValues(`${a.view}:${a.name}`, [4, 5]);
        expect((await registry.stats("user_activity:clicks_1h"))?.count).toBe(3);
        await registry.deleteFeature(b.id);
        expect(await registry.stats("user_activity:clicks_1h")).toBeUndefined();
        expectStatsOf(await registry.stats("user:age"), [4, 5]);
      });
    });

    describe("invalid specs", () => {
      const cases: ReadonlyArray<[string, () => Promise<unknown>, string]> = [
        ["feature with an empty name", () => registry.registerFeature({ ...age, name: "" }), "name"],
        ["feature with a negative ttl", () => registry.registerFeature({ ...age, ttlSeconds: -5 }), "ttlSeconds"],
        ["feature with a fractional ttl", () => registry.registerFeature({ ...age, ttlSeconds: 1.5 }), "ttlSeconds"],
        ["feature with version 0", () => registry.registerFeature({ ...age, version: 0 }), "version"],
        ["feature with an empty entity", () => registry.registerFeature({ ...age, entity: "" }), "entity"],
        ["entity with an empty name", () => registry.registerEntity({ ...user, name: "" }), "name"],
        ["table with a negative ttl", () => registry.registerTable({ ...orders, ttlSeconds: -1 }), "ttlSeconds"],
        ["table with an unnamed key", () => registry.registerTable({ ...orders, keys: [{ name: "", type: "string" }] }), "keys[0].name"],
      ];
      it.each(cases)("refuses a %s with a RequestError naming the field", async (_what, call, field) => {
        const e = await rejection(call());
        expect(e).toBeInstanceOf(RequestError);
        expect(e.code).toBe("INVALID_REQUEST");
        expect(e.details.field).toBe(field);
        expect(e.message).toContain(field);
        expect(await registry.listFeatures()).toEqual([]);
        expect(await registry.listEntities()).toEqual([]);
        expect(await registry.listTables()).toEqual([]);
      });
    });

    it("keeps records and statistics across close and reopen", async () => {
      const a = await registry.registerFeature({ ...age, description: "years", tags: { k: "v" }, ttlSeconds: 60 });
      const b = await registry.registerFeature(clicks);
      const replaced = await registry.registerFeature({ ...price, version: 1 }).then(() => registry.registerFeature({ ...price, dataType: "int", version: 2 }));
      await registry.deleteFeature(b.id);
      await registry.registerEntity(user);
      await registry.registerEntity({ name: "item", keyType: "int", version: 2, owner: "catalog" });
      await registry.registerTable(orders);
      await registry.registerTable({ ...orders, name: "gone" });
      await registry.deleteTable("gone");
      const values = sampleValues(11, 300);
      await registry.recordValues("user:age", values.slice(0, 150));
      await registry.recordValues("user:age", values.slice(150));
      await registry.recordValues("item:price", ["x", null]);

      const before = {
        features: await registry.listFeatures(),
        entities: await registry.listEntities(),
        tables: await registry.listTables(),
        age: await registry.stats("user:age"),
        price: await registry.stats("item:price"),
      };
      expect(before.features).toStrictEqual([a, replaced]);
      await registry.close();
      registry = await open();

      expect(await registry.listFeatures()).toStrictEqual(before.features);
      expect(await registry.listEntities()).toStrictEqual(before.entities);
      expect(await registry.listTables()).toStrictEqual(before.tables);
      expect(await registry.stats("user:age")).toStrictEqual(before.age);
      expect(await registry.stats("item:price")).toStrictEqual(before.price);
      expect(await registry.stats("user_activity:clicks_1h")).toBeUndefined();
      expectStatsOf(await registry.stats("user:age"), values);
      // Counting goes on where it stopped, and ids are not reused after a restart.
      await registry.recordValues("user:age", [1000]);
      expectStatsOf(await registry.stats("user:age"), [...values, 1000]);
      const c = await registry.registerFeature(clicks);
      expect([a.id, b.id, replaced.id]).not.toContain(c.id);
    });
  });
}
