/**
 * FreshetClient against a real listening server (not fastify's inject): every
 * read equals what the store itself answers, errors arrive as ServerError
 * with the server's status, code and field, and sockets are kept alive.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FreshetClient, ServerError, type TokenConfig } from "../src/index.js";
import { MIN, purchases, servingFixture, T0, userSpend, type Fixture } from "./helpers/servingFixture.js";

let fx: Fixture | undefined;
let clients: FreshetClient[] = [];

afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  await fx?.close();
  fx = undefined;
});

/** A fixture server listening on a free port, and a client of it. */
async function start(options: { tokens?: readonly TokenConfig[]; token?: string } = {}): Promise<{ fx: Fixture; client: FreshetClient; url: string }> {
  fx = await servingFixture(options.tokens === undefined ? {} : { tokens: options.tokens });
  const url = await fx.server.listen(0);
  const client = connect(url, options.token);
  return { fx, client, url };
}

function connect(url: string, token?: string): FreshetClient {
  const client = new FreshetClient(url, token === undefined ? {} : { token });
  clients.push(client);
  return client;
}

/** The ServerError a call rejects with (fails the test if it resolves or throws something else). */
async function serverError(p: Promise<unknown>): Promise<ServerError> {
  const outcome = await p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a ServerError, the call resolved to ${JSON.stringify(outcome.value)}`);
  if (!(outcome.error instanceof ServerError)) throw outcome.error;
  return outcome.error;
}

const rows = [
  { user: "ann", amount: 10, ts: T0 - 50 * MIN },
  { user: "ann", amount: 25, ts: T0 - 10 * MIN },
  { user: "bob", amount: 7, ts: T0 - 5 * MIN },
];

describe("FreshetClient over HTTP", () => {
  it("push (typed by the dataset), then getOnline with table objects and names equals the store's own read", async () => {
    const { fx, client } = await start();
    expect(await client.push(purchases, rows)).toEqual({ read: 3, accepted: 3, late: 0, invalid: 0 });
    const keys = [{ user: "ann" }, { user: "zed" }, { user: "bob" }];
    const direct = await fx.store.getOnline(userSpend, keys);
    expect(direct).toEqual([
      { user: "ann", n_1h: 2, spend_1h: 35, top_1h: 25 },
      { user: "zed", n_1h: 0, spend_1h: 0, top_1h: null },
      { user: "bob", n_1h: 1, spend_1h: 7, top_1h: 7 },
    ]);
    expect(await client.getOnline(userSpend, keys)).toEqual(direct);
    expect(await client.getOnline("user_spend", keys)).toEqual(direct);
  });

  it("`at` as a Date reads the past as the store does", async () => {
    const { fx, client } = await start();
    await client.push(purchases, rows);
    const at = new Date(T0 + 45 * MIN);
    const direct = await fx.store.getOnline(userSpend, [{ user: "ann" }], { at });
    // 45 minutes on, only ann's second purchase (T0 - 10 min) is inside her hour.
    expect(direct).toEqual([{ user: "ann", n_1h: 1, spend_1h: 25, top_1h: 25 }]);
    expect(await client.getOnline(userSpend, [{ user: "ann" }], { at })).toEqual(direct);
    expect(await client.getOnline("user_spend", [{ user: "ann" }], { at: at.getTime() })).toEqual(direct);
  });

  it("pointQuery with a scalar key and with an object key; bulkQuery returns every key's row", async () => {
    const { fx, client } = await start();
    await client.push(purchases, rows);
    const ann = await fx.store.pointQuery(userSpend, "ann");
    expect(ann).toEqual({ user: "ann", n_1h: 2, spend_1h: 35, top_1h: 25 });
    expect(await client.pointQuery(userSpend, "ann")).toEqual(ann);
    expect(await client.pointQuery(userSpend, { user: "ann" })).toEqual(ann);
    expect(await client.pointQuery("user_spend", "bob")).toEqual({ user: "bob", n_1h: 1, spend_1h: 7, top_1h: 7 });
    const bulk = await client.bulkQuery(userSpend);
    const byUser = (a: { user: string }, b: { user: string }): number => a.user.localeCompare(b.user);
    expect([...bulk].sort(byUser)).toEqual([...(await fx.store.bulkQuery(userSpend))].sort(byUser));
    expect(bulk.map((r) => r.user).sort()).toEqual(["ann", "bob"]);
  });

  it("getFeatures returns Feast columns: the entity column, then values with statuses and event timestamps", async () => {
    const { client } = await start();
    await client.push(purchases, rows);
    const columns = await client.getFeatures(["user_spend:spend_1h", "user_spend:n_1h"], { user: ["ann", "zed"] });
    expect(columns).toEqual([
      { name: "user", values: ["ann", "zed"], statuses: ["PRESENT", "PRESENT"], eventTimestamps: ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"] },
      {
        name: "spend_1h",
        values: [35, null],
        statuses: ["PRESENT", "NOT_FOUND"],
        // ann's latest purchase, whole seconds without ".000" as Feast writes them.
        eventTimestamps: [new Date(T0 - 10 * MIN).toISOString().replace(".000Z", "Z"), "1970-01-01T00:00:00Z"],
      },
      { name: "n_1h", values: [2, null], statuses: ["PRESENT", "NOT_FOUND"], eventTimestamps: [new Date(T0 - 10 * MIN).toISOString().replace(".000Z", "Z"), "1970-01-01T00:00:00Z"] },
    ]);
  });

  it("errors become ServerError with the HTTP status, the code and the field; a rejected push changes nothing", async () => {
    const { fx, client } = await start();
    await client.push(purchases, rows);

    const unknown = await serverError(client.getOnline("nope", [{ user: "ann" }]));
    expect(unknown.status).toBe(404);
    expect(unknown.code).toBe("UNKNOWN_TABLE");
    expect(unknown.message).toContain('"nope"');
    expect(unknown.message).toContain("(HTTP 404)");

    const bad = await serverError(client.push("purchases", [{ user: "cat", amount: 1, ts: T0 }, { user: "dan", amount: "lots", ts: T0 }]));
    expect(bad.status).toBe(400);
    expect(bad.code).toBe("SCHEMA_MISMATCH");
    expect(bad.details.field).toBe("amount");
    expect(fx.store.stats().datasets.purchases?.accepted).toBe(3);
    expect(await client.pointQuery(userSpend, "cat")).toEqual({ user: "cat", n_1h: 0, spend_1h: 0, top_1h: null });

    const noKey = await serverError(client.getOnline("user_spend", [{ who: "ann" }]));
    expect(noKey.status).toBe(400);
    expect(noKey.code).toBe("INVALID_REQUEST");
    expect(noKey.details.field).toBe("keys.0.user");

    const badRef = await serverError(client.getFeatures(["user_spend:nope"], { user: ["ann"] }));
    expect({ status: badRef.status, code: badRef.code, field: badRef.details.field }).toEqual({ status: 404, code: "UNKNOWN_FEATURE", field: "features.0" });
  });

  it("token option: 401 without a token, answers with one", async () => {
    const token = "client-test-token-0123456789";
    const { url } = await start({ tokens: [{ token, scopes: ["read", "write"] }] });
    const anonymous = connect(url);
    const denied = await serverError(anonymous.getOnline(userSpend, [{ user: "ann" }]));
    expect(denied.status).toBe(401);
    expect(denied.code).toBe("UNAUTHORIZED");
    const wrong = await serverError(connect(url, "not-the-token-0123456789").getOnline(userSpend, [{ user: "ann" }]));
    expect(wrong.status).toBe(401);
    // /health stays public.
    expect((await anonymous.health()).status).toBe("ok");
    const authorized = connect(url, token);
    expect(await authorized.push(purchases, rows)).toEqual({ read: 3, accepted: 3, late: 0, invalid: 0 });
    expect(await authorized.getOnline(userSpend, [{ user: "ann" }])).toEqual([{ user: "ann", n_1h: 2, spend_1h: 35, top_1h: 25 }]);
  });

  it("keeps connections alive: many sequential requests share one socket", async () => {
    const { fx, client, url } = await start();
    let connections = 0;
    fx.server.app.server.on("connection", () => connections++);
    await client.push(purchases, rows);
    const requests = 50;
    for (let i = 0; i < requests; i++) {
      const [row] = await client.getOnline(userSpend, [{ user: i % 2 === 0 ? "ann" : "bob" }]);
      expect(row?.user).toBe(i % 2 === 0 ? "ann" : "bob");
    }
    // One request at a time never needs a second socket while the first stays open.
    expect(connections).toBe(1);

    // A second client is a second pool: one more socket, not one per request.
    const other = connect(url);
    for (let i = 0; i < 10; i++) await other.pointQuery(userSpend, "ann");
    expect(connections).toBe(2);
  });
});
