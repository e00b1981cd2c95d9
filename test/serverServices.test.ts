/**
 * The server over the real services: registered features' values in Redis,
 * the registry in PostgreSQL. Each test gets its own Redis key prefix and
 * PostgreSQL schema, removed afterwards, so runs never see each other's data.
 */
import { Redis } from "ioredis";
import postgres from "postgres";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { count, createServer, dataset, FeatureStore, FreshetError, MemoryOnlineStore, PostgresRegistry, RedisOnlineStore, t } from "../src/index.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";
import { MIN, servingFixture, T0, type Fixture } from "./helpers/servingFixture.js";

const redisUp = await serviceAvailable("redis");
const postgresUp = await serviceAvailable("postgres");

type Json = Record<string, unknown>;
type FeastResult = { values: unknown[]; statuses: string[]; event_timestamps: string[] };

let run = 0;
/** A Redis prefix and a PostgreSQL schema no other test (or run) uses. */
function unique(): { prefix: string; schema: string } {
  const id = `${process.pid}_${Date.now()}_${run++}`;
  return { prefix: `freshet-serve-test-${id}`, schema: `freshet_serve_test_${id}` };
}

describe.skipIf(!redisUp || !postgresUp)("server over Redis and PostgreSQL", () => {
  const redis = new Redis(SERVICES.redis.url);
  const admin = postgres(SERVICES.postgres.url, { max: 1, onnotice: () => undefined });
  const fixtures: Fixture[] = [];
  const used: Array<{ prefix: string; schema: string }> = [];

  /** Every Redis key under the prefix (SCAN, so it works whatever the namespaces). */
  async function keysOf(prefix: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== "0");
    return found.sort();
  }

  afterEach(async () => {
    for (const f of fixtures.splice(0)) await f.close();
    for (const { prefix, schema } of used.splice(0)) {
      const keys = await keysOf(prefix);
      if (keys.length > 0) await redis.del(...keys);
      await admin`DROP SCHEMA IF EXISTS ${admin(schema)} CASCADE`;
    }
  });

  afterAll(async () => {
    redis.disconnect();
    await admin.end();
  });

  /** A fixture server (ManualClock at T0) whose online store is Redis under `prefix` and whose registry is PostgreSQL schema `schema`. */
  async function serve(names: { prefix: string; schema: string }): Promise<Fixture> {
    const online = await RedisOnlineStore.connect(SERVICES.redis.url, { prefix: names.prefix });
    const registry = await PostgresRegistry.connect(SERVICES.postgres.url, { schema: names.schema }).catch(async (e: unknown) => {
      await online.close();
      throw e;
    });
    const fx = await servingFixture({ online, registry });
    fixtures.push(fx);
    return fx;
  }

  function fresh(): { prefix: string; schema: string } {
    const names = unique();
    used.push(names);
    return names;
  }

  async function call(fx: Fixture, method: "GET" | "POST" | "DELETE", url: string, body?: unknown): Promise<{ status: number; json: Json }> {
    const res = await fx.server.app.inject({ method, url, ...(body === undefined ? {} : { payload: body as Json }) });
    return { status: res.statusCode, json: res.body === "" ? {} : (JSON.parse(res.body) as Json) };
  }

  async function feast(fx: Fixture, features: string[], entities: Record<string, string[]>): Promise<FeastResult[]> {
    const res = await call(fx, "POST", "/get-online-features", { features, entities });
    expect(res.status).toBe(200);
    return res.json.results as FeastResult[];
  }

  const age = { name: "user_age", description: "User age in years", data_type: "int", entity: "user", feature_group: "demographics", ttl_seconds: 3600 };
  const city = { name: "user_city", data_type: "string", entity: "user", feature_group: "demographics" };

  it("register, ingest, read one and many, list with statistics, delete removes the values from Redis", async () => {
    const names = fresh();
    const fx = await serve(names);
    expect(await call(fx, "GET", "/health")).toEqual({ status: 200, json: { status: "ok", online: "redis", registry: "postgres" } });
    expect(await call(fx, "POST", "/register", age)).toMatchObject({ status: 200, json: { message: "Feature registered" } });
    expect((await call(fx, "POST", "/register", city)).status).toBe(200);
    const dup = await call(fx, "POST", "/register", age);
    expect(dup.status).toBe(409);
    expect(dup.json.error).toMatchObject({ code: "CONFLICT" });
    for (const [id, a, c] of [["user_123", 25, "Oslo"], ["user_456", 41, "Lima"]] as const) {
      const r = await call(fx, "POST", "/features/ingest", { entity_id: id, features: [{ feature_name: "user_age", value: a }, { feature_name: "user_city", value: c }] });
      expect(r.json).toEqual({ message: "Features ingested successfully", entity_id: id, features: ["user_age", "user_city"] });
    }
    // The values are in Redis, one hash per entity id under the prefix.
    expect(await keysOf(names.prefix)).toEqual([`${names.prefix}:entity%3Auser:user_123`, `${names.prefix}:entity%3Auser:user_456`]);
    expect((await call(fx, "GET", "/features/online/user_456")).json).toEqual({ entity_id: "user_456", features: { user_age: 41, user_city: "Lima" } });
    expect((await call(fx, "GET", "/features/online/user_123?feature_names=user_city")).json).toEqual({ entity_id: "user_123", features: { user_city: "Oslo" } });
    const batch = await call(fx, "POST", "/features/online", { entity_ids: ["user_123", "nobody", "user_456"], feature_names: ["user_city", "user_age"] });
    expect(batch.json).toEqual([
      { entity_id: "user_123", features: { user_city: "Oslo", user_age: 25 } },
      { entity_id: "nobody", features: { user_city: null, user_age: null } },
      { entity_id: "user_456", features: { user_city: "Lima", user_age: 41 } },
    ]);
    // Statistics live in PostgreSQL.
    const list = (await call(fx, "GET", "/features")).json.features as Json[];
    const ageRow = list.find((f) => f.name === "user_age");
    expect(ageRow).toMatchObject({ data_type: "int", entity: "user", ttl_seconds: 3600, min_value: 25, max_value: 41, mean_value: 33 });
    const statsRows = await admin`SELECT feature FROM ${admin(names.schema)}.feature_stats ORDER BY feature`;
    expect(statsRows.map((r) => r.feature as string)).toEqual(["demographics:user_age", "demographics:user_city"]);

    const del = await call(fx, "DELETE", `/features/${String(ageRow?.id)}`);
    expect(del.json).toEqual({ message: "Feature 'user_age' deleted successfully" });
    // The hashes keep only user_city.
    for (const key of await keysOf(names.prefix)) expect(await redis.hkeys(key)).toEqual(["user_city"]);
    expect((await call(fx, "GET", "/features/online/user_456")).json).toEqual({ entity_id: "user_456", features: { user_city: "Lima" } });
    expect(((await call(fx, "GET", "/features")).json.features as Json[]).map((f) => f.name)).toEqual(["user_city"]);
    expect((await call(fx, "DELETE", `/features/${String(ageRow?.id)}`)).status).toBe(404);
    // Registering the name again starts without values.
    expect((await call(fx, "POST", "/register", age)).status).toBe(200);
    expect((await call(fx, "GET", "/features/online/user_456?feature_names=user_age")).json).toEqual({ entity_id: "user_456", features: { user_age: null } });
  });

  it("TTL follows the server's clock: an expired value reads null and OUTSIDE_MAX_AGE; rewriting refreshes it", async () => {
    const fx = await serve(fresh());
    await call(fx, "POST", "/register", age);
    await call(fx, "POST", "/register", city);
    await call(fx, "POST", "/features/ingest", { entity_id: "u1", features: [{ feature_name: "user_age", value: 20 }, { feature_name: "user_city", value: "Rome" }] });
    fx.clock.advance(3600 * 1000);
    expect((await call(fx, "GET", "/features/online/u1")).json.features).toEqual({ user_age: 20, user_city: "Rome" });
    fx.clock.advance(1);
    // user_age has a one-hour TTL, user_city none.
    expect((await call(fx, "GET", "/features/online/u1?feature_names=user_age,user_city")).json.features).toEqual({ user_age: null, user_city: "Rome" });
    const [, ageCol, cityCol] = await feast(fx, ["demographics:user_age", "demographics:user_city"], { user: ["u1"] });
    expect(ageCol).toMatchObject({ values: [null], statuses: ["OUTSIDE_MAX_AGE"] });
    expect(cityCol).toMatchObject({ values: ["Rome"], statuses: ["PRESENT"] });
    await call(fx, "POST", "/features/ingest", { entity_id: "u1", features: [{ feature_name: "user_age", value: 21 }] });
    expect((await call(fx, "GET", "/features/online/u1?feature_names=user_age")).json.features).toEqual({ user_age: 21 });
  });

  it("Feast reads a view of registered features: statuses and event timestamps", async () => {
    const fx = await serve(fresh());
    await call(fx, "POST", "/register", age);
    await call(fx, "POST", "/register", city);
    await call(fx, "POST", "/features/ingest", { entity_id: "u1", features: [{ feature_name: "user_age", value: 30 }, { feature_name: "user_city", value: null }], event_timestamp: T0 - 5 * MIN });
    const pushed = await call(fx, "POST", "/push", { push_source_name: "demographics", df: { user: ["u2"], user_age: [44], event_timestamp: [new Date(T0 - MIN).toISOString()] } });
    expect(pushed).toMatchObject({ status: 200, json: { accepted: 1 } });
    const results = await feast(fx, ["demographics:user_age", "demographics:user_city"], { user: ["u1", "u2", "nobody"] });
    const iso = (ms: number): string => new Date(ms).toISOString().replace(".000Z", "Z");
    expect(results).toEqual([
      { values: ["u1", "u2", "nobody"], statuses: ["PRESENT", "PRESENT", "PRESENT"], event_timestamps: Array(3).fill("1970-01-01T00:00:00Z") },
      { values: [30, 44, null], statuses: ["PRESENT", "PRESENT", "NOT_FOUND"], event_timestamps: [iso(T0 - 5 * MIN), iso(T0 - MIN), "1970-01-01T00:00:00Z"] },
      { values: [null, null, null], statuses: ["NULL_VALUE", "NOT_FOUND", "NOT_FOUND"], event_timestamps: [iso(T0 - 5 * MIN), "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"] },
    ]);
  });

  it("a new server over the same Redis prefix and PostgreSQL schema serves the same features and values", async () => {
    const names = fresh();
    const first = await serve(names);
    await call(first, "POST", "/register", age);
    await call(first, "POST", "/register", city);
    await call(first, "POST", "/features/ingest", { entity_id: "u1", features: [{ feature_name: "user_age", value: 52 }, { feature_name: "user_city", value: "Kyiv" }] });
    await call(first, "POST", "/features/ingest", { entity_id: "u2", features: [{ feature_name: "user_age", value: 19 }] });
    const before = (await call(first, "GET", "/features")).json;
    await first.close();
    fixtures.splice(fixtures.indexOf(first), 1);

    const second = await serve(names);
    const after = (await call(second, "GET", "/features")).json;
    expect(after).toEqual(before);
    expect((after.features as Json[]).map((f) => [f.name, f.min_value, f.max_value])).toEqual([
      ["user_age", 19, 52],
      ["user_city", null, null],
    ]);
    expect((await call(second, "GET", "/features/online/u1")).json).toEqual({ entity_id: "u1", features: { user_age: 52, user_city: "Kyiv" } });
    const batch = await call(second, "POST", "/features/online", { entity_ids: ["u1", "u2"], feature_names: ["user_age", "user_city"] });
    expect(batch.json).toEqual([
      { entity_id: "u1", features: { user_age: 52, user_city: "Kyiv" } },
      { entity_id: "u2", features: { user_age: 19, user_city: null } },
    ]);
    // Its registry still refuses a duplicate, and gives the next feature the next id.
    expect((await call(second, "POST", "/register", age)).status).toBe(409);
    const ids = (after.features as Json[]).map((f) => Number(f.id));
    const added = await call(second, "POST", "/register", { name: "user_score", data_type: "float", entity: "user" });
    expect(added.json.id).toBe(Math.max(...ids) + 1);
  });

  it("refuses to start when a table's key type changed without a new version; starts with version 2", async () => {
    const names = fresh();
    const pagesByName = dataset("page_views", { page: t.string(), ts: t.timestamp() }, { timestamp: "ts" });
    const byName = pagesByName.groupBy("page").aggregate({ views_1h: count({ window: "1h" }) }).as("page_views_1h");
    const pagesById = dataset("page_views", { page: t.int(), ts: t.timestamp() }, { timestamp: "ts" });
    const byId = pagesById.groupBy("page").aggregate({ views_1h: count({ window: "1h" }) }).as("page_views_1h");
    const byIdV2 = pagesById.groupBy("page").aggregate({ views_1h: count({ window: "1h" }) }).as("page_views_1h", { version: 2 });

    /** createServer over a fresh in-memory store with these definitions, and this test's registry. */
    async function start(definitions: Parameters<FeatureStore["apply"]>[0]): Promise<{ close(): Promise<void> }> {
      const store = await FeatureStore.open();
      const online = new MemoryOnlineStore();
      const registry = await PostgresRegistry.connect(SERVICES.postgres.url, { schema: names.schema });
      const closeAll = async (): Promise<void> => {
        await store.close();
        await online.close();
        await registry.close();
      };
      try {
        await store.apply(definitions);
        const server = await createServer({ store, online, registry, logLevel: false });
        return {
          async close() {
            await server.close();
            await closeAll();
          },
        };
      } catch (e) {
        await closeAll();
        throw e;
      }
    }

    const first = await start([pagesByName, byName]);
    await first.close();

    const refused: unknown = await start([pagesById, byId]).then(
      async (s) => {
        await s.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(FreshetError);
    const err = refused as FreshetError;
    expect(err.code).toBe("CONFLICT");
    expect(err.details.field).toBe("keys");
    expect(err.message).toContain('Table "page_views_1h"');
    expect(err.message).toContain('key "page" changed type from string to int');
    expect(err.message).toContain("raise `version` to 2");

    const second = await start([pagesById, byIdV2]);
    await second.close();
    const [record] = await admin`SELECT version::int AS version, keys FROM ${admin(names.schema)}.tables WHERE name = 'page_views_1h'`;
    expect(record).toEqual({ version: 2, keys: [{ name: "page", type: "int" }] });
  });
});
