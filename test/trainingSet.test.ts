import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { t } from "../src/core/schema.js";
import { count, forever, last, sum } from "../src/dsl/aggregations.js";
import { dataset } from "../src/dsl/dataset.js";
import { FeatureStore } from "../src/featureStore/featureStore.js";
import { csvSource } from "../src/sources/files/csvSource.js";
import { parquetSource } from "../src/sources/files/parquetSource.js";
import { writeRows } from "../src/stores/offline/rowFiles.js";

const T0 = Date.UTC(2026, 2, 1, 12);
const MIN = 60_000;

const payments = dataset("payments", { user: t.string(), amount: t.float(), fraud: t.int(), ts: t.timestamp() }, { timestamp: "ts" });
const spend = payments.groupBy("user").aggregate({ n_1h: count({ window: "1h" }), spend_1h: sum("amount", { window: "1h" }) }).as("spend");
const fraudFlag = payments.groupBy("user").aggregate({ fraud_total: sum("fraud", { window: "1d" }), last_amount: last("amount", { window: forever() }) }).as("fraud");

let store: FeatureStore;
let dir: string;
beforeEach(async () => {
  store = await FeatureStore.open({ clock: "event" });
  await store.apply([payments, spend, fraudFlag]);
  await store.materializeOffline({
    payments: [
      { user: "ann", amount: 10, fraud: 0, ts: T0 },
      { user: "ann", amount: 20, fraud: 0, ts: T0 + 10 * MIN },
      { user: "bob", amount: 5, fraud: 0, ts: T0 + 5 * MIN },
      { user: "ann", amount: 99, fraud: 1, ts: T0 + 40 * MIN },
    ],
  });
  dir = await mkdtemp(join(tmpdir(), "freshet-training-"));
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe("trainingSet", () => {
  it("reads every feature as of the row's time: ties at t included, an event 1 ms later never", async () => {
    const rows = await store.trainingSet({
      entities: [
        { user: "ann", ts: T0 + 10 * MIN - 1 },
        { user: "ann", ts: T0 + 10 * MIN },
        { user: "ann", ts: T0 + 10 * MIN },
        { user: "bob", ts: T0 },
        { user: "cat", ts: T0 + 60 * MIN },
      ],
      features: ["spend:*", "fraud:last_amount"],
      statuses: true,
    });
    expect(rows).toEqual([
      { user: "ann", ts: T0 + 10 * MIN - 1, n_1h: 1, n_1h__status: "PRESENT", spend_1h: 10, spend_1h__status: "PRESENT", last_amount: 10, last_amount__status: "PRESENT" },
      { user: "ann", ts: T0 + 10 * MIN, n_1h: 2, n_1h__status: "PRESENT", spend_1h: 30, spend_1h__status: "PRESENT", last_amount: 20, last_amount__status: "PRESENT" },
      // Duplicate entity rows each get their row.
      { user: "ann", ts: T0 + 10 * MIN, n_1h: 2, n_1h__status: "PRESENT", spend_1h: 30, spend_1h__status: "PRESENT", last_amount: 20, last_amount__status: "PRESENT" },
      // bob's first event is at T0 + 5 min: at T0 he has none yet (an empty window, NOT_FOUND).
      { user: "bob", ts: T0, n_1h: 0, n_1h__status: "NOT_FOUND", spend_1h: 0, spend_1h__status: "NOT_FOUND", last_amount: null, last_amount__status: "NOT_FOUND" },
      { user: "cat", ts: T0 + 60 * MIN, n_1h: 0, n_1h__status: "NOT_FOUND", spend_1h: 0, spend_1h__status: "NOT_FOUND", last_amount: null, last_amount__status: "NOT_FOUND" },
    ]);
  });

  it("max age: a value whose latest event is older than the max age at the row's time is withheld, at the boundary it is kept", async () => {
    const rows = await store.trainingSet({
      entities: [
        { user: "bob", ts: T0 + 5 * MIN + 30 * MIN },
        { user: "bob", ts: T0 + 5 * MIN + 30 * MIN + 1 },
      ],
      features: ["spend:spend_1h", { feature: "fraud:last_amount", as: "last" }],
      maxAge: { spend: "30m" },
      statuses: true,
    });
    expect(rows.map((r) => [r.spend_1h, r.spend_1h__status, r.last, r.last__status])).toEqual([
      [5, "PRESENT", 5, "PRESENT"],
      [null, "OUTSIDE_MAX_AGE", 5, "PRESENT"],
    ]);
  });

  it("labels: a feature read a lookahead after the row's time, or an entity column", async () => {
    const rows = await store.trainingSet({
      entities: [
        { user: "ann", ts: T0 + 9 * MIN, outcome: "ok" },
        { user: "ann", ts: T0 + 10 * MIN, outcome: "ok" },
        { user: "ann", ts: T0 + 20 * MIN, outcome: "chargeback" },
      ],
      features: ["fraud:fraud_total"],
      labels: [{ feature: "fraud:fraud_total", lookahead: "30m", as: "fraud_next_30m" }, { column: "outcome" }],
    });
    // The fraud at T0 + 40 min is within 30 min after T0 + 10 min (exactly at the boundary) and after
    // T0 + 20 min, not after T0 + 9 min; the feature itself never sees it.
    expect(rows.map((r) => [r.fraud_total, r.fraud_next_30m, r.outcome])).toEqual([
      [0, 0, "ok"],
      [0, 1, "ok"],
      [0, 1, "chargeback"],
    ]);
  });

  it("entity rows from CSV and Parquet files; the set written to Parquet and CSV reads back the same", async () => {
    const csv = join(dir, "entities.csv");
    await writeFile(csv, `user,ts\nann,${new Date(T0 + 45 * MIN).toISOString()}\nbob,${T0 + 6 * MIN}\n`);
    const fromCsv = await store.trainingSet({ entities: csvSource(csv), features: ["spend:*"] });
    expect(fromCsv).toEqual([
      { user: "ann", ts: T0 + 45 * MIN, n_1h: 3, spend_1h: 129 },
      { user: "bob", ts: T0 + 6 * MIN, n_1h: 1, spend_1h: 5 },
    ]);
    const pq = join(dir, "set.parquet");
    await writeRows(pq, fromCsv);
    const entitiesPq = join(dir, "entities.parquet");
    await writeRows(entitiesPq, [{ user: "ann", ts: T0 + 45 * MIN }]);
    expect(await store.trainingSet({ entities: parquetSource(entitiesPq), features: ["spend:spend_1h"] })).toEqual([{ user: "ann", ts: T0 + 45 * MIN, spend_1h: 129 }]);
    const back: unknown[] = [];
    for await (const b of parquetSource(pq).batches()) back.push(...b);
    expect(back).toEqual(fromCsv);
    const out = join(dir, "set.csv");
    await writeRows(out, fromCsv);
    expect(await readFile(out, "utf8")).toBe(`user,ts,n_1h,spend_1h\nann,${T0 + 45 * MIN},3,129\nbob,${T0 + 6 * MIN},1,5\n`);
  });

  it("rejects unknown tables, unknown features, clashing names and rows without a time", async () => {
    await expect(store.trainingSet({ entities: [], features: ["nope:x"] })).rejects.toMatchObject({ code: "UNKNOWN_TABLE" });
    await expect(store.trainingSet({ entities: [], features: ["spend:nope"] })).rejects.toThrow(/no feature "nope"; it has n_1h, spend_1h/);
    await expect(store.trainingSet({ entities: [], features: ["spend:n_1h", "fraud:fraud_total", { feature: "fraud:last_amount", as: "n_1h" }] })).rejects.toThrow(/column "n_1h" comes from both/);
    await expect(store.trainingSet({ entities: [{ user: "ann" }], features: ["spend:n_1h"] })).rejects.toMatchObject({ code: "INVALID_TIMESTAMP" });
    await expect(store.trainingSet({ entities: [], features: ["spend:n_1h"], labels: [{ feature: "spend", lookahead: "1h" }] })).rejects.toMatchObject({ code: "INVALID_DEFINITION" });
  });
});
