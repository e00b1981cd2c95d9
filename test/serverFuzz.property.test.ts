import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { servingFixture, T0, MIN, type Fixture } from "./helpers/servingFixture.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await servingFixture();
  const inject = (url: string, payload: unknown) => fx.server.app.inject({ method: "POST", url, payload: payload as object });
  await inject("/v1/push/purchases", { rows: [{ user: "ann", amount: 5, ts: T0 - MIN }] });
  await inject("/register", { name: "user_age", data_type: "int", entity: "user", ttl_seconds: 60 });
  await inject("/features/ingest", { entity_id: "ann", features: [{ feature_name: "user_age", value: 30 }] });
});
afterAll(async () => {
  await fx.close();
});

/** Everything a request could change: engine stats and rows, registry records, served values. */
async function snapshot(): Promise<string> {
  const online = await fx.online.read("entity:user", ["ann", "bob"], ["user_age"], { now: fx.clock.now() });
  return JSON.stringify([fx.store.stats(), await fx.store.bulkQuery("user_spend"), await fx.registry.listFeatures(), await fx.registry.listTables(), await fx.registry.listEntities(), online]);
}

const routes = [
  "/v1/push/purchases",
  "/v1/online/user_spend",
  "/v1/features",
  "/v1/entities",
  "/get-online-features",
  "/push",
  "/register",
  "/features/ingest",
  "/features/online",
] as const;

describe("no request crashes the server or changes state when rejected", () => {
  it("random JSON bodies to every POST route: a 4xx with a JSON error, and nothing changed", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom("rows", "keys", "features", "entities", "df", "entity_id", "name", "data_type", "entity", "push_source_name"), fc.jsonValue())), async (url, body) => {
        const before = await snapshot();
        const res = await fx.server.app.inject({ method: "POST", url, payload: JSON.stringify(body), headers: { "content-type": "application/json" } });
        expect(res.statusCode).toBeLessThan(500);
        if (res.statusCode >= 400) {
          const err = JSON.parse(res.body) as { error: { code: string; message: string } };
          expect(typeof err.error.code).toBe("string");
          expect(err.error.message.length).toBeGreaterThan(0);
          expect(await snapshot()).toBe(before);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("random path segments and query strings: never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), fc.constantFrom("/v1/online/", "/v1/tables/", "/features/online/", "/v1/stats/features/", "/features/"), async (a, b, prefix) => {
        const url = `${prefix}${encodeURIComponent(a)}${prefix === "/v1/online/" ? `/${encodeURIComponent(b)}` : ""}?at=${encodeURIComponent(b)}&feature_names=${encodeURIComponent(a)}`;
        const method = prefix === "/features/" ? "DELETE" : "GET";
        const before = await snapshot();
        const res = await fx.server.app.inject({ method, url });
        expect(res.statusCode).toBeLessThan(500);
        if (res.statusCode >= 400) expect(await snapshot()).toBe(before);
      }),
      { numRuns: 300 },
    );
  });
});
