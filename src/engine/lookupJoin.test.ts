import { describe, expect, expectTypeOf, it } from "vitest";
import { t } from "../core/schema.js";
import { ManualClock } from "../core/clock.js";
import { count, last, sum } from "../dsl/aggregations.js";
import { dataset, type InferRow } from "../dsl/dataset.js";
import { FeatureStore } from "../featureStore/featureStore.js";

const T = Date.UTC(2025, 0, 1);
const orders = dataset("orders", { user: t.string(), amount: t.float(), at: t.timestamp() }, { timestamp: "at", idleTimeout: "10s" });
const users = dataset("users", { id: t.string(), tier: t.string(), age: t.int().optional(), updated: t.timestamp() }, { timestamp: "updated", key: ["id"], idleTimeout: "10s" });

describe("lookup join", () => {
  it("types the joined row and refuses bad joins at definition time", () => {
    const j = orders.join(users, { on: ["user"], how: "left", prefix: "u_" });
    expectTypeOf<InferRow<typeof j>>().toEqualTypeOf<{ user: string; amount: number; at: number; u_tier: string | null; u_age: number | null }>();
    const inner = orders.join(users, { on: ["user"] });
    expectTypeOf<InferRow<typeof inner>>().toEqualTypeOf<{ user: string; amount: number; at: number; tier: string; age: number | null }>();
    const badKey = dataset("bad", { user: t.int(), at: t.timestamp() }, { timestamp: "at" });
    expect(() => badKey.join(users, { on: ["user"] })).toThrow(/key type mismatch: "user" is int but key "id" of "users" is string/);
    expect(() => orders.join(users)).toThrow(/the stream has no field "id" to match key "id" of "users"/);
    expect(() => orders.join(orders as never)).toThrow(/dataset "orders" has no key/);
    const clash = dataset("clash", { user: t.string(), tier: t.string(), at: t.timestamp() }, { timestamp: "at" });
    expect(() => clash.join(users, { on: ["user"] })).toThrow(/field "tier" of "users" is also a field of the stream; give a prefix/);
    expect(() => orders.join(users, { on: ["user"], how: "outer" as "left" })).toThrow(/"how" must be "inner" or "left"/);
  });

  it("joins as of each event's time, within the bound, and waits for the joined dataset's watermark", async () => {
    const clock = new ManualClock(T);
    const store = await FeatureStore.open({ clock });
    const spend = orders
      .join(users, { on: ["user"], within: "1h" })
      .groupBy("tier")
      .aggregate({ n: count({ window: "1d" }), spend: sum("amount", { window: "1d" }) })
      .as("spend_by_tier");
    const lastTier = orders.join(users, { on: ["user"], how: "left" }).groupBy("user").aggregate({ tier: last("tier", { window: "1d" }) }).as("last_tier");
    await store.apply([orders, users, spend, lastTier]);
    await store.push("users", [{ id: "ann", tier: "silver", age: 30, updated: T }]);
    await store.push("orders", [
      { user: "ann", amount: 10, at: T + 1000 },
      { user: "ann", amount: 20, at: T + 3_600_000 }, // exactly 1 h after the user row: within
      { user: "ann", amount: 40, at: T + 3_600_001 }, // 1 h + 1 ms: too old for the inner join
      { user: "bob", amount: 5, at: T + 2000 }, // no user row
    ]);
    // Nothing is joined yet: the users' watermark (T) has not passed the orders.
    expect(store.stats().tables["spend_by_tier"]?.keys).toBe(0);
    await store.push("users", [{ id: "ann", tier: "gold", age: 30, updated: T + 3_600_001 }]);
    // Now orders before T + 3_600_001 are joined; the one at exactly that time waits (a later tie could still come).
    const at = T + 3_600_001;
    expect(await store.getOnline(spend, [{ tier: "silver" }, { tier: "gold" }], { at })).toEqual([
      { tier: "silver", n: 2, spend: 30 },
      { tier: "gold", n: 0, spend: 0 },
    ]);
    // Idle for 10 s: the rest goes through, and a point-in-time read agrees.
    clock.advance(10_000);
    const online = await store.getOnline(spend, [{ tier: "silver" }, { tier: "gold" }], { at });
    expect(online).toEqual([
      { tier: "silver", n: 2, spend: 30 },
      { tier: "gold", n: 1, spend: 40 },
    ]);
    expect(await store.getHistorical(spend, [{ tier: "silver", ts: at }, { tier: "gold", ts: at }])).toEqual(online.map((r) => ({ ...r, ts: at })));
    expect(await store.getOnline(lastTier, [{ user: "ann" }, { user: "bob" }], { at })).toEqual([
      { user: "ann", tier: "gold" },
      { user: "bob", tier: null },
    ]);
    expect(store.explain(spend)).toContain("inner join users on [user] within 1h as of event time");
    await store.close();
  });

  it("a backfill of both sides joins everything, and a restart rebuilds the joined table", async () => {
    const { mkdtemp, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "freshet-join-"));
    try {
      const perUser = orders.join(users, { on: ["user"], how: "left" }).groupBy("user").aggregate({ tier: last("tier", { window: "1d" }), n: count({ window: "1d" }) }).as("per_user");
      const a = await FeatureStore.open({ dir, clock: "event" });
      await a.apply([orders, users, perUser]);
      const rows: string[] = [];
      await a.materializeOffline(
        {
          users: [{ id: "ann", tier: "silver", updated: T }, { id: "ann", tier: "gold", updated: T + 5000 }],
          orders: [{ user: "ann", amount: 1, at: T + 1000 }, { user: "ann", amount: 1, at: T + 6000 }, { user: "ann", amount: 1, at: T + 9000 }],
        },
        { onTableRows: (_t, r) => { for (let i = 0; i < r.length; i++) rows.push(`${r.ts[i] as number - T}:${String(r.values[0]?.[i])}:${String(r.values[1]?.[i])}`); } },
      );
      // Every order is joined (the replayed users ended), and emitted with its features.
      expect(rows).toEqual(["1000:silver:1", "6000:gold:2", "9000:gold:3"]);
      const before = await a.getOnline(perUser, [{ user: "ann" }], { at: T + 9000 });
      expect(before).toEqual([{ user: "ann", tier: "gold", n: 3 }]);
      await a.close();
      const b = await FeatureStore.open({ dir, clock: "event" });
      await b.apply([orders, users, perUser]);
      expect(await b.getOnline(perUser, [{ user: "ann" }], { at: T + 9000 })).toEqual(before);
      await b.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
