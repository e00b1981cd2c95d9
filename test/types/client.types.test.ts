/**
 * Type-level tests of FreshetClient: reads are typed by the table objects and
 * pushes by the dataset objects, so a client call needs no hand-written row
 * type. `npm test` type-checks this file first; a `@ts-expect-error` that no
 * longer errors fails the run. The same calls also run against a listening
 * server, so the mistakes the compiler refuses are refused at run time too.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { FreshetClient, type FeatureColumn, type InferRow, type IngestReport, type Row, type TableKeys, type TableRow } from "../../src/index.js";
import { MIN, purchases, servingFixture, T0, userSpend, type Fixture } from "../helpers/servingFixture.js";

let fx: Fixture;
let client: FreshetClient;

beforeAll(async () => {
  fx = await servingFixture();
  client = new FreshetClient(await fx.server.listen(0));
  await fx.store.push("purchases", [{ user: "ann", amount: 10, ts: T0 - 5 * MIN }]);
});

afterAll(async () => {
  client.close();
  await fx.close();
});

type SpendRow = { user: string } & { n_1h: number; spend_1h: number; top_1h: number | null };

describe("FreshetClient types", () => {
  it("the fixture's table and dataset have the types the client relies on", () => {
    expectTypeOf<TableRow<typeof userSpend>>().toEqualTypeOf<SpendRow>();
    expectTypeOf<TableKeys<typeof userSpend>>().toEqualTypeOf<{ user: string }>();
    expectTypeOf<InferRow<typeof purchases>>().toEqualTypeOf<{ user: string; amount: number; ts: number }>();
  });

  it("reads with a table object return the table's row type; with a name, plain rows", async () => {
    const rows = await client.getOnline(userSpend, [{ user: "ann" }]);
    expectTypeOf(rows).toEqualTypeOf<SpendRow[]>();
    expect(rows).toEqual([{ user: "ann", n_1h: 1, spend_1h: 10, top_1h: 10 }]);

    const byName = await client.getOnline("user_spend", [{ user: "ann" }]);
    expectTypeOf(byName).toEqualTypeOf<Row[]>();
    expect(byName).toEqual(rows);

    const point = await client.pointQuery(userSpend, "ann");
    expectTypeOf(point).toEqualTypeOf<SpendRow>();
    expectTypeOf(await client.pointQuery(userSpend, { user: "ann" })).toEqualTypeOf<SpendRow>();
    expect(point.spend_1h).toBe(10);

    const bulk = await client.bulkQuery(userSpend);
    expectTypeOf(bulk).toEqualTypeOf<SpendRow[]>();
    expect(bulk.map((r) => r.user)).toEqual(["ann"]);

    const columns = await client.getFeatures(["user_spend:n_1h"], { user: ["ann"] });
    expectTypeOf(columns).toEqualTypeOf<FeatureColumn[]>();
    expect(columns.map((c) => c.name)).toEqual(["user", "n_1h"]);
  });

  it("push takes the dataset's row type and returns the ingest report", async () => {
    const report = await client.push(purchases, [{ user: "bob", amount: 3, ts: T0 - MIN }]);
    expectTypeOf(report).toEqualTypeOf<IngestReport>();
    expect(report).toEqual({ read: 1, accepted: 1, late: 0, invalid: 0 });
  });

  it("wrong key fields, key types and row fields fail to compile, and the server refuses them too", async () => {
    // @ts-expect-error: user_spend is keyed by "user", not "usr"
    const wrongKey = client.getOnline(userSpend, [{ usr: "ann" }]);
    await expect(wrongKey).rejects.toMatchObject({ status: 400, code: "INVALID_REQUEST", details: { field: "keys.0.user" } });

    // @ts-expect-error: "amount" is a float field, not text
    const wrongType = client.push(purchases, [{ user: "dan", amount: "lots", ts: T0 }]);
    await expect(wrongType).rejects.toMatchObject({ status: 400, code: "SCHEMA_MISMATCH", details: { field: "amount" } });

    // @ts-expect-error: "ts" is required
    const missing = client.push(purchases, [{ user: "dan", amount: 1 }]);
    await expect(missing).rejects.toMatchObject({ status: 400, details: { field: "ts" } });

    // Nothing of the refused pushes reached the table.
    expect(await client.pointQuery(userSpend, "dan")).toEqual({ user: "dan", n_1h: 0, spend_1h: 0, top_1h: null });

    // Key values of the wrong type: only the compiler refuses these (the server reads the
    // number 42 as the key "42"), so they are checked at compile time and never sent.
    const compileOnly = (): void => {
      // @ts-expect-error: the key "user" is a string
      void client.getOnline(userSpend, [{ user: 42 }]);
      // @ts-expect-error: a scalar point-query key has the key field's type
      void client.pointQuery(userSpend, 42);
      // @ts-expect-error: push rows are the dataset's rows, not a table's
      void client.push(userSpend, [{ user: "ann" }]);
    };
    void compileOnly;
  });
});
