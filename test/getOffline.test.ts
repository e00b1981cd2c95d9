import { describe, expect, it } from "vitest";
import { t } from "../src/core/schema.js";
import { count, sum } from "../src/dsl/aggregations.js";
import { dataset } from "../src/dsl/dataset.js";
import type { EmittedRows } from "../src/engine/aggregateOperator.js";
import { FeatureStore } from "../src/featureStore/featureStore.js";

const T0 = Date.UTC(2026, 2, 1, 12);
const MIN = 60_000;
const payments = dataset("payments", { user: t.string(), amount: t.float(), ts: t.timestamp() }, { timestamp: "ts", lateness: "15m" });
const spend = payments.groupBy("user").aggregate({ n_1h: count({ window: "1h" }), spend_1h: sum("amount", { window: "1h" }) }).as("spend");
const rows = [
  { user: "ann", amount: 10, ts: T0 },
  { user: "bob", amount: 5, ts: T0 + 5 * MIN },
  { user: "ann", amount: 20, ts: T0 + 10 * MIN },
  { user: "ann", amount: 99, ts: T0 + 40 * MIN },
  { user: "ann", amount: 1, ts: T0 + 40 * MIN },
];

describe("getOffline", () => {
  it("a table's history in a time range, per (key, event time), from pushed events", async () => {
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([payments, spend]);
    // Pushed out of order (within the lateness): the history is by event time all the same.
    await store.push("payments", [rows[2], rows[0], rows[1]]);
    await store.push("payments", [rows[4], rows[3]]);
    expect(await store.getOffline(spend)).toEqual([
      { user: "ann", ts: T0, n_1h: 1, spend_1h: 10 },
      { user: "bob", ts: T0 + 5 * MIN, n_1h: 1, spend_1h: 5 },
      { user: "ann", ts: T0 + 10 * MIN, n_1h: 2, spend_1h: 30 },
      // Two events at one time: one row, with both.
      { user: "ann", ts: T0 + 40 * MIN, n_1h: 4, spend_1h: 130 },
    ]);
    expect(await store.getOffline("spend", { start: T0 + 5 * MIN, end: T0 + 40 * MIN })).toEqual([
      { user: "bob", ts: T0 + 5 * MIN, n_1h: 1, spend_1h: 5 },
      { user: "ann", ts: T0 + 10 * MIN, n_1h: 2, spend_1h: 30 },
    ]);
    expect((await store.getOffline("spend", { keys: [{ user: "bob" }] })).map((r) => r.user)).toEqual(["bob"]);
    const arrow = await store.getOffline("spend", { format: "arrow", start: new Date(T0 + MIN).toISOString() });
    expect(arrow.numRows).toBe(3);
    expect([...(arrow.getChild("spend_1h")?.toArray() ?? [])]).toEqual([5, 30, 130]);
    await expect(store.getOffline("spend", { start: "soon" })).rejects.toMatchObject({ code: "INVALID_TIMESTAMP", details: { field: "start" } });
    await store.close();
  });

  it("equals the history materializeOffline emits for the same events", async () => {
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([payments, spend]);
    const emitted: EmittedRows[] = [];
    await store.materializeOffline({ payments: rows }, { onTableRows: (_t, r) => void emitted.push(r) });
    const fromEmit = emitted.flatMap((e) => Array.from({ length: e.length }, (_, i) => ({ user: e.keys[i]?.[0], ts: e.ts[i], n_1h: (e.values[0] as ArrayLike<number>)[i], spend_1h: (e.values[1] as ArrayLike<number>)[i] })));
    const offline = await store.getOffline(spend);
    expect(offline).toEqual(fromEmit.sort((a, b) => (a.ts as number) - (b.ts as number)));
    await store.close();
  });
});

describe("getOffline with a data directory", () => {
  it("materializeOffline writes the table's history to Parquet; getOffline reads it back, and recomputes after new events", async () => {
    const { mkdtemp, rm, readdir } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "freshet-offline-"));
    try {
      const store = await FeatureStore.open({ dir, clock: "event" });
      await store.apply([payments, spend]);
      await store.materializeOffline({ payments: rows });
      const parts = await readdir(join(dir, "tables"), { recursive: true });
      expect(parts.some((f) => String(f).endsWith(".parquet"))).toBe(true);
      const expected = [
        { user: "ann", ts: T0, n_1h: 1, spend_1h: 10 },
        { user: "bob", ts: T0 + 5 * MIN, n_1h: 1, spend_1h: 5 },
        { user: "ann", ts: T0 + 10 * MIN, n_1h: 2, spend_1h: 30 },
        { user: "ann", ts: T0 + 40 * MIN, n_1h: 4, spend_1h: 130 },
      ];
      expect(await store.getOffline(spend)).toEqual(expected);
      expect(await store.getOffline(spend, { keys: [{ user: "ann" }], start: T0 + MIN })).toEqual([expected[2], expected[3]]);
      await store.close();
      // Reopened: the stored history is current and answers; a push makes it stale and it is recomputed.
      const again = await FeatureStore.open({ dir, clock: "event" });
      await again.apply([payments, spend]);
      expect(await again.getOffline(spend)).toEqual(expected);
      await again.push("payments", [{ user: "bob", amount: 1, ts: T0 + 50 * MIN }]);
      expect(await again.getOffline(spend, { keys: [{ user: "bob" }] })).toEqual([expected[1], { user: "bob", ts: T0 + 50 * MIN, n_1h: 2, spend_1h: 6 }]);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
