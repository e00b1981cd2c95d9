/**
 * Online joins and dedups meet the events recorded before them: a table
 * applied to datasets that already have events, and a data directory
 * reopened after a restart, join (and deduplicate) new events with the
 * earlier ones online exactly as point-in-time reads (which replay the
 * history) do.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { count, dataset, FeatureStore, sum, t } from "../src/index.js";

const users = dataset("users", { user: t.string(), age: t.float(), ts: t.timestamp() }, { timestamp: "ts", key: ["user"] });
const orders = dataset("orders", { user: t.string(), amount: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
const withAge = orders.join(users, { on: ["user"] }).groupBy("user").aggregate({ n: count({ window: "1h" }), ages: sum("age", { window: "1h" }) }).as("with_age");
const imp = dataset("imp", { user: t.string(), v: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
const clk = dataset("clk", { user: t.string(), v: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
const pairs = imp
  .intervalJoin(clk, { on: ["user"], lower: 0, upper: 1000, prefix: "c_" })
  .groupBy("user")
  .aggregate({ n: count({ window: "1h" }), clicked: sum("c_v", { window: "1h" }) })
  .as("pairs");
const deduped = imp
  .union(clk)
  .dedup({ by: ["user", "v"], window: "1h" })
  .groupBy("user")
  .aggregate({ n: count({ window: "1h" }) })
  .as("deduped");

const dedupOne = imp.dedup({ by: ["user", "v"], window: "1h" }).groupBy("user").aggregate({ n: count({ window: "1h" }) }).as("dedup_one");

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** getOnline at `at` and getHistorical at `at` (without its ts) both give user u's `want`. */
async function expectBoth(store: FeatureStore, table: string, at: number, want: Record<string, unknown>): Promise<void> {
  const online = await store.getOnline(table, [{ user: "u" }], { at });
  const offline = (await store.getHistorical(table, [{ user: "u", ts: at }])).map(({ ts: _ts, ...r }) => r);
  expect({ online, offline }).toEqual({ online: [{ user: "u", ...want }], offline: [{ user: "u", ...want }] });
}

describe("online joins with events recorded before them", () => {
  it("a lookup join applied after the joined dataset's events looks them up", async () => {
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([users, orders]);
    await store.push("users", [{ user: "u", age: 30, ts: 1000 }]);
    await store.apply([withAge]);
    await store.push("orders", [{ user: "u", amount: 5, ts: 1500 }]);
    await store.push("users", [{ user: "u", age: 31, ts: 1600 }]); // moves the joined side past the order
    await expectBoth(store, "with_age", 1500, { n: 1, ages: 30 });
    await store.close();
  });

  it("a lookup join, an interval join, a dedup after a union and a dedup of one source keep meeting earlier events across a restart of a data directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "freshet-joins-"));
    dirs.push(dir);
    const defs = [users, orders, imp, clk, withAge, pairs, deduped, dedupOne];
    let store = await FeatureStore.open({ dir, clock: "event" });
    await store.apply(defs);
    await store.push("users", [{ user: "u", age: 30, ts: 1000 }]);
    await store.push("imp", [{ user: "u", v: 1, ts: 1000 }]);
    await store.push("clk", [{ user: "u", v: 7, ts: 900 }]);
    await store.close();

    store = await FeatureStore.open({ dir, clock: "event" });
    await store.apply(defs);
    await store.push("orders", [{ user: "u", amount: 5, ts: 1500 }]);
    await store.push("users", [{ user: "u", age: 31, ts: 1600 }]);
    // A click 600 ms after the impression before the restart pairs with it; a repeated (user, v) is dropped.
    await store.push("clk", [{ user: "u", v: 2, ts: 1600 }]);
    await store.push("imp", [{ user: "u", v: 1, ts: 1700 }]);
    await expectBoth(store, "with_age", 1500, { n: 1, ages: 30 });
    // One pair: imp 1000 with clk 1600 (within 1 s after it); clk 900 is before imp 1000, clk 1600 before imp 1700.
    await expectBoth(store, "pairs", 1600, { n: 1, clicked: 2 });
    // imp v1 @1000, clk v7 @900, clk v2 @1600; imp v1 @1700 repeats (u, 1) within the hour.
    await expectBoth(store, "deduped", 1600, { n: 3 });
    // The same dedup on one source: imp v1 @1700 repeats imp v1 @1000.
    await expectBoth(store, "dedup_one", 1700, { n: 1 });
    await store.close();
  });

  it("an interval join applied after events on both sides pairs new events with them", async () => {
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([imp, clk]);
    await store.push("imp", [{ user: "u", v: 1, ts: 1000 }]);
    await store.apply([pairs]);
    await store.push("clk", [{ user: "u", v: 3, ts: 1500 }]);
    await expectBoth(store, "pairs", 1500, { n: 1, clicked: 3 });
    await store.close();
  });
});
