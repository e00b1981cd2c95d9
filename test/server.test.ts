import { afterEach, describe, expect, it } from "vitest";
import { FeatureStore } from "../src/featureStore/featureStore.js";
import { FileRegistry } from "../src/registry/fileRegistry.js";
import { createServer } from "../src/serving/server.js";
import { MemoryOnlineStore } from "../src/stores/online/memoryOnlineStore.js";
import { MIN, purchases, servingFixture, T0, userSpend, type Fixture } from "./helpers/servingFixture.js";

let fx: Fixture;
afterEach(async () => {
  await fx?.close();
});

type Json = Record<string, unknown>;

async function call(method: "GET" | "POST" | "DELETE", url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Json & Json[] }> {
  const res = await fx.server.app.inject({ method, url, ...(body === undefined ? {} : { payload: body as Json }), headers });
  return { status: res.statusCode, json: res.body === "" ? ({} as Json & Json[]) : (JSON.parse(res.body) as Json & Json[]) };
}

const rows = [
  { user: "ann", amount: 10, ts: T0 - 50 * MIN },
  { user: "ann", amount: 25, ts: T0 - 10 * MIN },
  { user: "bob", amount: 7, ts: T0 - 5 * MIN },
];

describe("native /v1 routes", () => {
  it("push, then single and batch reads equal the store's own reads; `at` reads the past", async () => {
    fx = await servingFixture();
    const pushed = await call("POST", "/v1/push/purchases", { rows });
    expect(pushed).toEqual({ status: 200, json: { read: 3, accepted: 3, late: 0, invalid: 0 } });
    const one = await call("GET", "/v1/online/user_spend/ann");
    expect(one.json).toEqual({ user: "ann", n_1h: 2, spend_1h: 35, top_1h: 25 });
    expect(one.json).toEqual((await fx.store.getOnline("user_spend", [{ user: "ann" }]))[0]);
    const many = await call("POST", "/v1/online/user_spend", { keys: [{ user: "bob" }, { user: "zed" }, { user: "ann" }] });
    expect(many.json.rows).toEqual([
      { user: "bob", n_1h: 1, spend_1h: 7, top_1h: 7 },
      { user: "zed", n_1h: 0, spend_1h: 0, top_1h: null },
      { user: "ann", n_1h: 2, spend_1h: 35, top_1h: 25 },
    ]);
    // In 45 minutes only ann's second purchase is left in her window.
    const later = await call("GET", `/v1/online/user_spend/ann?at=${new Date(T0 + 45 * MIN).toISOString()}`);
    expect(later.json).toEqual({ user: "ann", n_1h: 1, spend_1h: 25, top_1h: 25 });
    // Windows decay with the clock.
    fx.clock.advance(15 * MIN);
    expect((await call("GET", "/v1/online/user_spend/ann")).json).toEqual({ user: "ann", n_1h: 1, spend_1h: 25, top_1h: 25 });
    const bulk = await call("GET", "/v1/tables/user_spend/rows");
    expect((bulk.json.rows as Json[]).map((r) => r.user).sort()).toEqual(["ann", "bob"]);
  });

  it("describes tables with their registry metadata and plan", async () => {
    fx = await servingFixture();
    const d = await call("GET", "/v1/tables/user_spend");
    expect(d.status).toBe(200);
    expect(d.json.keys).toEqual([{ name: "user", type: "string" }]);
    expect((d.json.features as Json[]).map((f) => f.name)).toEqual(["n_1h", "spend_1h", "top_1h"]);
    expect(d.json.registry).toMatchObject({ name: "user_spend", kind: "table", version: 1, description: "spend per user over the last hour", owner: "risk-team", tags: { domain: "payments" }, ttlSeconds: 7200 });
    expect((await fx.registry.getTable("purchases"))?.description).toBe("purchases by user");
    expect(String(d.json.plan)).toContain("purchases");
    const list = await call("GET", "/v1/tables");
    expect((list.json.tables as Json[]).map((x) => x.name)).toEqual(["user_spend"]);
    expect((list.json.datasets as Json[]).map((x) => x.name)).toEqual(["purchases"]);
  });

  it("rejects bad input with a 4xx naming the field, and changes nothing", async () => {
    fx = await servingFixture();
    await call("POST", "/v1/push/purchases", { rows });
    const before = fx.store.stats().datasets.purchases?.accepted;
    const bad = await call("POST", "/v1/push/purchases", { rows: [{ user: "cat", amount: 1, ts: T0 }, { user: "dan", amount: "lots", ts: T0 }] });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: "SCHEMA_MISMATCH", field: "amount" });
    expect(fx.store.stats().datasets.purchases?.accepted).toBe(before);
    expect((await call("GET", "/v1/online/user_spend/cat")).json).toEqual({ user: "cat", n_1h: 0, spend_1h: 0, top_1h: null });
    const missing = await call("POST", "/v1/push/purchases", { rows: [] });
    expect(missing.status).toBe(400);
    expect(missing.json.error).toMatchObject({ code: "INVALID_REQUEST", field: "rows" });
    const noKeys = await call("POST", "/v1/online/user_spend", { keys: [{ who: "ann" }] });
    expect(noKeys.json.error).toMatchObject({ code: "INVALID_REQUEST", field: "keys.0.user" });
    const badAt = await call("GET", "/v1/online/user_spend/ann?at=yesterday-ish");
    expect(badAt.status).toBe(400);
    expect(badAt.json.error).toMatchObject({ code: "INVALID_TIMESTAMP", field: "at" });
    const unknown = await call("GET", "/v1/online/nope/ann");
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatchObject({ code: "UNKNOWN_TABLE" });
    const route = await call("GET", "/v2/anything");
    expect(route.status).toBe(404);
    const json = await fx.server.app.inject({ method: "POST", url: "/v1/push/purchases", payload: "{not json", headers: { "content-type": "application/json" } });
    expect(json.statusCode).toBe(400);
    expect(JSON.parse(json.body).error.code).toBe("INVALID_REQUEST");
    const huge = await fx.server.app.inject({ method: "POST", url: "/v1/push/purchases", payload: JSON.stringify({ rows: Array.from({ length: 40_000 }, (_, i) => ({ user: `u${i}`, amount: 1, ts: T0 })) }), headers: { "content-type": "application/json" } });
    expect(huge.statusCode).toBe(413);
    expect(JSON.parse(huge.body).error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(fx.store.stats().datasets.purchases?.accepted).toBe(before);
    // Still serving after all of that.
    expect((await call("GET", "/v1/online/user_spend/ann")).json.n_1h).toBe(2);
  });
});

describe("Feast routes", () => {
  it("get-online-features: column-oriented, entity column first, statuses and event timestamps", async () => {
    fx = await servingFixture();
    await call("POST", "/v1/push/purchases", { rows });
    const res = await call("POST", "/get-online-features", { features: ["user_spend:spend_1h", "user_spend:n_1h"], entities: { user: ["ann", "zed"] } });
    expect(res.status).toBe(200);
    expect(res.json.metadata).toEqual({ feature_names: ["user", "spend_1h", "n_1h"] });
    const results = res.json.results as Array<{ values: unknown[]; statuses: string[]; event_timestamps: string[] }>;
    expect(results[0]).toEqual({ values: ["ann", "zed"], statuses: ["PRESENT", "PRESENT"], event_timestamps: ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"] });
    expect(results[1]).toEqual({ values: [35, null], statuses: ["PRESENT", "NOT_FOUND"], event_timestamps: [new Date(T0 - 10 * MIN).toISOString().replace(".000Z", "Z"), "1970-01-01T00:00:00Z"] });
    expect(results[2]?.values).toEqual([2, null]);
    const full = await call("POST", "/get-online-features", { features: ["user_spend:spend_1h"], entities: { user: ["ann"] }, full_feature_names: true });
    expect((full.json.metadata as Json).feature_names).toEqual(["user", "user_spend__spend_1h"]);
    // The table's TTL is 2h since the key's latest event: past it (ann: 123 min), the value is
    // withheld; bob's latest event is 118 min old, his window is empty.
    fx.clock.advance(113 * MIN);
    const old = await call("POST", "/get-online-features", { features: ["user_spend:top_1h"], entities: { user: ["ann", "bob"] } });
    const col = (old.json.results as Array<{ values: unknown[]; statuses: string[] }>)[1];
    expect(col).toMatchObject({ values: [null, null], statuses: ["OUTSIDE_MAX_AGE", "NULL_VALUE"] });
    // The native route withholds the same expired values.
    expect((await call("POST", "/v1/online/user_spend", { keys: [{ user: "ann" }, { user: "bob" }] })).json.rows).toEqual([
      { user: "ann", n_1h: null, spend_1h: null, top_1h: null },
      { user: "bob", n_1h: 0, spend_1h: 0, top_1h: null },
    ]);
  });

  it("rejects malformed references and ragged entity columns", async () => {
    fx = await servingFixture();
    const ref = await call("POST", "/get-online-features", { features: ["spend_1h"], entities: { user: ["ann"] } });
    expect(ref.status).toBe(400);
    expect(ref.json.error).toMatchObject({ field: "features.0" });
    const unknown = await call("POST", "/get-online-features", { features: ["user_spend:nope"], entities: { user: ["ann"] } });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatchObject({ code: "UNKNOWN_FEATURE", field: "features.0" });
    const ragged = await call("POST", "/get-online-features", { features: ["user_spend:n_1h"], entities: { user: ["ann"], other: [1, 2] } });
    expect(ragged.status).toBe(400);
    expect(ragged.json.error).toMatchObject({ field: "entities.other" });
  });

  it("push: a column frame goes to the dataset, all rows or none", async () => {
    fx = await servingFixture();
    const ok = await call("POST", "/push", { push_source_name: "purchases", df: { user: ["eve", "eve"], amount: [3, 4], ts: [T0 - MIN, T0] }, to: "online" });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ accepted: 2 });
    expect((await call("GET", "/v1/online/user_spend/eve")).json).toEqual({ user: "eve", n_1h: 2, spend_1h: 7, top_1h: 4 });
    const ragged = await call("POST", "/push", { push_source_name: "purchases", df: { user: ["eve"], amount: [3, 4], ts: [T0] } });
    expect(ragged.status).toBe(400);
    expect((await call("GET", "/v1/online/user_spend/eve")).json.n_1h).toBe(2);
  });
});

describe("Realtime Feature Store routes", () => {
  const age = { name: "user_age", description: "User age in years", data_type: "int", entity: "user", feature_group: "demographics", ttl_seconds: 3600 };
  const city = { name: "user_city", data_type: "string", entity: "user", feature_group: "demographics" };

  it("register, ingest, read one and many, list with statistics, delete removes the values", async () => {
    fx = await servingFixture();
    expect(await call("POST", "/register", age)).toMatchObject({ status: 200, json: { message: "Feature registered" } });
    expect((await call("POST", "/register", city)).status).toBe(200);
    const dup = await call("POST", "/register", age);
    expect(dup.status).toBe(409);
    expect(String(dup.json.detail)).toContain("user_age");
    for (const [id, a, c] of [["user_123", 25, "Oslo"], ["user_456", 41, "Lima"], ["user_789", 30, null]] as const) {
      const r = await call("POST", "/features/ingest", { entity_id: id, features: [{ feature_name: "user_age", value: a }, { feature_name: "user_city", value: c }] });
      expect(r.json).toEqual({ message: "Features ingested successfully", entity_id: id, features: ["user_age", "user_city"] });
    }
    expect((await call("GET", "/features/online/user_123?feature_names=user_age")).json).toEqual({ entity_id: "user_123", features: { user_age: 25 } });
    expect((await call("GET", "/features/online/user_456")).json).toEqual({ entity_id: "user_456", features: { user_age: 41, user_city: "Lima" } });
    const batch = await call("POST", "/features/online", { entity_ids: ["user_123", "nobody", "user_789"], feature_names: ["user_city", "user_age"] });
    expect(batch.json).toEqual([
      { entity_id: "user_123", features: { user_city: "Oslo", user_age: 25 } },
      { entity_id: "nobody", features: { user_city: null, user_age: null } },
      { entity_id: "user_789", features: { user_city: null, user_age: 30 } },
    ]);
    const list = await call("GET", "/features");
    const ageRow = (list.json.features as Json[]).find((f) => f.name === "user_age");
    const mean = (25 + 41 + 30) / 3;
    const sd = Math.sqrt(((25 - mean) ** 2 + (41 - mean) ** 2 + (30 - mean) ** 2) / 3);
    expect(ageRow).toMatchObject({ data_type: "int", entity: "user", feature_group: "demographics", ttl_seconds: 3600, min_value: 25, max_value: 41 });
    expect(ageRow?.mean_value as number).toBeCloseTo(mean, 9);
    expect(ageRow?.std_dev as number).toBeCloseTo(sd, 9);
    const described = await call("GET", "/v1/features/user_age");
    expect(described.json).toMatchObject({ name: "user_age", dataType: "int", entity: "user", featureGroup: "demographics", ttlSeconds: 3600, stats: { count: 3, min: 25, max: 41 } });
    expect((await call("GET", "/v1/features/user_spend:spend_1h")).json).toMatchObject({ table: "user_spend", name: "spend_1h", type: "number", keys: [{ name: "user", type: "string" }] });
    expect((await call("GET", "/v1/features/nope")).status).toBe(404);
    const stats = await call("GET", "/v1/stats/features/user_city");
    expect(stats.json).toMatchObject({ count: 3, nulls: 1, min: null });
    // Feast reads the same values by view.
    const feast = await call("POST", "/get-online-features", { features: ["demographics:user_age"], entities: { user: ["user_456", "nobody"] } });
    expect((feast.json.results as Array<{ values: unknown[]; statuses: string[] }>)[1]).toMatchObject({ values: [41, null], statuses: ["PRESENT", "NOT_FOUND"] });
    // Delete removes the served values: registering the name again starts empty.
    const del = await call("DELETE", `/features/${ageRow?.id as number}`);
    expect(del.json).toEqual({ message: "Feature 'user_age' deleted successfully" });
    expect((await call("DELETE", `/features/${ageRow?.id as number}`)).status).toBe(404);
    await call("POST", "/register", age);
    expect((await call("GET", "/features/online/user_123?feature_names=user_age")).json).toEqual({ entity_id: "user_123", features: { user_age: null } });
  });

  it("an ingest applies fully or not at all", async () => {
    fx = await servingFixture();
    await call("POST", "/register", age);
    await call("POST", "/register", city);
    await call("POST", "/features/ingest", { entity_id: "u1", features: [{ feature_name: "user_age", value: 20 }, { feature_name: "user_city", value: "Rome" }] });
    const unknown = await call("POST", "/features/ingest", { entity_id: "u1", features: [{ feature_name: "user_age", value: 21 }, { feature_name: "user_height", value: 180 }] });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatchObject({ code: "UNKNOWN_FEATURE", field: "features.1.feature_name" });
    const wrongType = await call("POST", "/features/ingest", { entity_id: "u1", features: [{ feature_name: "user_city", value: "Paris" }, { feature_name: "user_age", value: "old" }] });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.error).toMatchObject({ code: "INVALID_REQUEST", field: "features.1.value" });
    expect((await call("GET", "/features/online/u1")).json).toEqual({ entity_id: "u1", features: { user_age: 20, user_city: "Rome" } });
    expect((await call("GET", "/v1/stats/features/user_age")).json).toMatchObject({ count: 1, min: 20, max: 20 });
  });

  it("TTL: an expired value reads as null and OUTSIDE_MAX_AGE; rewriting refreshes it", async () => {
    fx = await servingFixture();
    await call("POST", "/register", age);
    await call("POST", "/features/ingest", { entity_id: "u1", features: [{ feature_name: "user_age", value: 20 }] });
    fx.clock.advance(3600 * 1000);
    expect((await call("GET", "/features/online/u1?feature_names=user_age")).json.features).toEqual({ user_age: 20 });
    fx.clock.advance(1);
    expect((await call("GET", "/features/online/u1?feature_names=user_age")).json.features).toEqual({ user_age: null });
    const feast = await call("POST", "/get-online-features", { features: ["demographics:user_age"], entities: { user: ["u1"] } });
    expect((feast.json.results as Array<{ values: unknown[]; statuses: string[] }>)[1]).toMatchObject({ values: [null], statuses: ["OUTSIDE_MAX_AGE"] });
    await call("POST", "/features/ingest", { entity_id: "u1", features: [{ feature_name: "user_age", value: 21 }] });
    expect((await call("GET", "/features/online/u1?feature_names=user_age")).json.features).toEqual({ user_age: 21 });
  });

  it("validates registrations", async () => {
    fx = await servingFixture();
    const bad = await call("POST", "/register", { ...age, data_type: "complex" });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ field: "data_type" });
    const ttl = await call("POST", "/register", { ...age, ttl_seconds: -5 });
    expect(ttl.json.error).toMatchObject({ field: "ttl_seconds" });
    expect((await call("GET", "/features")).json.features).toEqual([]);
  });
});

describe("operations", () => {
  it("auth: tokens with scopes; /health stays public", async () => {
    const reader = "reader-token-0123456789";
    const writer = "writer-token-0123456789";
    const admin = "admin-token-01234567890";
    fx = await servingFixture({ tokens: [{ token: reader, scopes: ["read"] }, { token: writer, scopes: ["write"] }, { token: admin, scopes: ["admin"] }] });
    const as = (t: string) => ({ authorization: `Bearer ${t}` });
    expect((await call("GET", "/health")).status).toBe(200);
    expect((await call("GET", "/v1/online/user_spend/ann")).status).toBe(401);
    expect((await call("GET", "/v1/online/user_spend/ann", undefined, as("wrong-token-000000000000"))).status).toBe(401);
    expect((await call("GET", "/v1/online/user_spend/ann", undefined, as(reader))).status).toBe(200);
    const denied = await call("POST", "/v1/push/purchases", { rows }, as(reader));
    expect(denied.status).toBe(403);
    expect(fx.store.stats().datasets.purchases?.accepted).toBe(0);
    expect((await call("POST", "/v1/push/purchases", { rows }, as(writer))).status).toBe(200);
    expect((await call("POST", "/register", { name: "f", data_type: "int", entity: "user" }, as(writer))).status).toBe(403);
    expect((await call("POST", "/register", { name: "f", data_type: "int", entity: "user" }, as(admin))).status).toBe(200);
    expect((await call("GET", "/metrics")).status).toBe(401);
    expect((await call("GET", "/docs/openapi.json")).status).toBe(401);
    expect((await call("GET", "/docs/openapi.json", undefined, as(reader))).status).toBe(200);
  });

  it("CORS is closed by default and opens for the configured origins", async () => {
    fx = await servingFixture();
    const closed = await fx.server.app.inject({ method: "GET", url: "/health", headers: { origin: "https://app.example" } });
    expect(closed.headers["access-control-allow-origin"]).toBeUndefined();
    await fx.close();
    fx = await servingFixture({ corsOrigins: ["https://app.example"] });
    const open = await fx.server.app.inject({ method: "GET", url: "/health", headers: { origin: "https://app.example" } });
    expect(open.headers["access-control-allow-origin"]).toBe("https://app.example");
  });

  it("/docs and its OpenAPI document come from the request schemas", async () => {
    fx = await servingFixture();
    const page = await fx.server.app.inject({ method: "GET", url: "/docs" });
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.body).toContain("/get-online-features");
    const doc = (await call("GET", "/docs/openapi.json")).json as unknown as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown>; required: string[] } }> } }>> };
    expect(doc.openapi).toBe("3.1.0");
    const register = doc.paths["/register"]?.post?.requestBody?.content["application/json"]?.schema;
    expect(Object.keys(register?.properties ?? {})).toContain("data_type");
    expect(register?.required).toEqual(expect.arrayContaining(["name", "data_type", "entity"]));
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/v1/online/{table}/{key}", "/push", "/features/online/{entity_id}", "/features/{feature_id}", "/metrics"]));
  });

  it("/metrics: latency per route, events processed, watermark lag; table feature statistics follow pushes", async () => {
    fx = await servingFixture();
    await call("POST", "/v1/push/purchases", { rows });
    await call("GET", "/v1/online/user_spend/ann");
    await call("GET", "/v1/online/user_spend/bob");
    const text = (await fx.server.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(text).toMatch(/freshet_http_request_duration_seconds_count\{method="GET",route="\/v1\/online\/:table\/:key",status="200"\} 2/);
    expect(text).toContain('freshet_events_processed_total{dataset="purchases"} 3');
    expect(text).toContain('freshet_ingested_rows_total{dataset="purchases"} 3');
    expect(text).toContain(`freshet_watermark_lag_seconds{dataset="purchases"} ${(5 * MIN) / 1000}`);
    const stats = await call("GET", "/v1/stats/features/user_spend:spend_1h");
    // After the push, ann's row (35) and bob's (7) were recorded.
    expect(stats.json).toMatchObject({ count: 2, min: 7, max: 35 });
  });
});

describe("registry routes", () => {
  it("entities: registering a feature records its entity; a key-type change needs a higher version", async () => {
    fx = await servingFixture();
    await call("POST", "/register", { name: "user_age", data_type: "int", entity: "user" });
    expect(((await call("GET", "/v1/entities")).json.entities as Json[]).map((e) => [e.name, e.keyType])).toEqual([["user", "string"]]);
    const changed = await call("POST", "/v1/entities", { name: "user", keyType: "int" });
    expect(changed.status).toBe(409);
    expect(String((changed.json.error as Json).message)).toContain("string");
    const raised = await call("POST", "/v1/entities", { name: "user", keyType: "int", version: 2, owner: "growth" });
    expect(raised.status).toBe(201);
    expect(raised.json).toMatchObject({ name: "user", keyType: "int", version: 2, owner: "growth" });
  });

  it("a table the definitions apply cannot be deleted; a stale record can", async () => {
    fx = await servingFixture();
    const applied = await call("DELETE", "/v1/tables/user_spend");
    expect(applied.status).toBe(409);
    await fx.registry.registerTable({ name: "old_table", kind: "table", keys: [{ name: "user", type: "string" }], fields: [] });
    expect((await call("DELETE", "/v1/tables/old_table")).json).toMatchObject({ name: "old_table" });
    expect((await call("DELETE", "/v1/tables/old_table")).status).toBe(404);
    expect((await fx.registry.listTables()).map((t) => t.name).sort()).toEqual(["purchases", "user_spend"]);
  });
});

describe("keys and clocks", () => {
  it("key values must match the key field's type", async () => {
    fx = await servingFixture();
    await call("POST", "/v1/push/purchases", { rows });
    const num = await call("POST", "/v1/online/user_spend", { keys: [{ user: 42 }] });
    expect(num.status).toBe(400);
    expect(num.json.error).toMatchObject({ code: "INVALID_REQUEST", field: "keys.0.user" });
    const feast = await call("POST", "/get-online-features", { features: ["user_spend:n_1h"], entities: { user: [true] } });
    expect(feast.json.error).toMatchObject({ field: "entities.user.0" });
  });

  it("a key's timestamp is its latest event even when that event was in an earlier batch", async () => {
    fx = await servingFixture();
    await call("POST", "/v1/push/purchases", { rows: [{ user: "ann", amount: 1, ts: T0 - 30 * MIN }] });
    await call("POST", "/v1/push/purchases", { rows: [{ user: "bob", amount: 1, ts: T0 - 20 * MIN }] });
    const res = await call("POST", "/get-online-features", { features: ["user_spend:n_1h"], entities: { user: ["ann", "bob"] } });
    expect((res.json.results as Array<{ event_timestamps: string[] }>)[1]?.event_timestamps).toEqual([new Date(T0 - 30 * MIN).toISOString().replace(".000Z", "Z"), new Date(T0 - 20 * MIN).toISOString().replace(".000Z", "Z")]);
  });

  it('with clock "event", TTLs of computed tables count on the table\'s watermark, not the wall clock', async () => {
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([purchases, userSpend]);
    const server = await createServer({ store, online: new MemoryOnlineStore(), registry: FileRegistry.inMemory(), logLevel: false });
    try {
      const old = Date.UTC(2020, 0, 1);
      await store.push("purchases", [{ user: "ann", amount: 10, ts: old }, { user: "bob", amount: 3, ts: old + 3 * 60 * MIN }]);
      const res = await server.app.inject({ method: "POST", url: "/get-online-features", payload: { features: ["user_spend:spend_1h"], entities: { user: ["ann", "bob"] } } });
      // At the watermark (bob's event), ann's latest event is 3 h old: past the 2 h TTL; bob's is fresh.
      expect(JSON.parse(res.body).results[1]).toMatchObject({ values: [null, 3], statuses: ["OUTSIDE_MAX_AGE", "PRESENT"] });
    } finally {
      await server.close();
      await store.close();
    }
  });
});
