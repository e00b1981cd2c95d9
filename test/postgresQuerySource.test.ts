import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { t } from "../src/core/schema.js";
import { count } from "../src/dsl/aggregations.js";
import { dataset } from "../src/dsl/dataset.js";
import { FeatureStore } from "../src/featureStore/featureStore.js";
import { postgresQuerySource } from "../src/sources/sql/postgresQuerySource.js";
import { rowsToArrow } from "../src/stores/offline/arrowTable.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";

const available = await serviceAvailable("postgres");
const table = `freshet_entities_${process.pid}_${Date.now()}`;
const T0 = Date.UTC(2026, 6, 1);

describe.skipIf(!available)("entity rows from a PostgreSQL query", () => {
  const sql = postgres(SERVICES.postgres.url, { max: 1, onnotice: () => undefined });
  beforeAll(async () => {
    await sql.unsafe(`CREATE TABLE ${table} (customer text NOT NULL, at timestamptz NOT NULL, churned boolean NOT NULL)`);
    await sql.unsafe(`INSERT INTO ${table} SELECT 'c' || (i % 3), to_timestamp(${T0 / 1000} + i * 60), i % 2 = 0 FROM generate_series(0, 9) AS i`);
  });
  afterAll(async () => {
    await sql.unsafe(`DROP TABLE IF EXISTS ${table}`);
    await sql.end();
  });

  it("feeds a training set through a cursor, in batches", async () => {
    const visits = dataset("visits", { customer: t.string(), at: t.timestamp() }, { timestamp: "at" });
    const perCustomer = visits.groupBy("customer").aggregate({ visits_1h: count({ window: "1h" }) }).as("per_customer");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([visits, perCustomer]);
    await store.materializeOffline({ visits: Array.from({ length: 10 }, (_, i) => ({ customer: `c${i % 3}`, at: T0 + i * 60_000 - 1 })) });
    const source = postgresQuerySource({ url: SERVICES.postgres.url, query: `SELECT customer, at, churned FROM ${table} WHERE at >= $1 ORDER BY at`, params: [new Date(T0)], batchSize: 4 });
    const batches: number[] = [];
    for await (const b of source.batches()) batches.push(b.length);
    expect(batches).toEqual([4, 4, 2]);
    const rows = await store.trainingSet({ entities: source, timestampField: "at", features: ["per_customer:visits_1h"], labels: [{ column: "churned" }] });
    // Row i is at T0 + i min; visit j of the same customer (j ≡ i mod 3) is at T0 + j min − 1 ms, so visits j <= i count.
    expect(rows.map((r) => [r.customer, r.visits_1h, r.churned])).toEqual(Array.from({ length: 10 }, (_, i) => [`c${i % 3}`, Math.floor(i / 3) + 1, i % 2 === 0]));
    const arrow = rowsToArrow(rows);
    expect(arrow.numRows).toBe(10);
    expect(arrow.getChild("visits_1h")?.toArray()).toEqual(Float64Array.from(rows.map((r) => r.visits_1h as number)));
    await store.close();
  });

  it("a failing query is a SourceError naming PostgreSQL", async () => {
    const source = postgresQuerySource({ url: SERVICES.postgres.url, query: "SELECT * FROM no_such_table_here" });
    await expect(
      (async () => {
        for await (const b of source.batches()) void b;
      })(),
    ).rejects.toThrow(/PostgreSQL query at 127\.0\.0\.1:5432\/test failed: .*no_such_table_here/);
  });
});
