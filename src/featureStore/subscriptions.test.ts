import { describe, expect, expectTypeOf, it } from "vitest";
import { t } from "../core/schema.js";
import { count, last, sum } from "../dsl/aggregations.js";
import { dataset } from "../dsl/dataset.js";
import { FeatureStore } from "./featureStore.js";

const T = Date.UTC(2025, 0, 1);
const clicks = dataset("clicks", { user: t.string(), amount: t.float(), at: t.timestamp() }, { timestamp: "at" });
const logins = dataset("logins", { user: t.string(), device: t.string(), at: t.timestamp() }, { timestamp: "at" });
const spend = clicks.groupBy("user").aggregate({ clicks_1h: count({ window: "1h" }), spend_1h: sum("amount", { window: "1h" }) }).as("spend");
const devices = logins.groupBy("user").aggregate({ device: last("device", { window: "1d" }) }).as("devices");

describe("store.subscribe (combined outputs)", () => {
  it("delivers one vector per updated key across tables after each push", async () => {
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([clicks, logins, spend, devices]);
    await store.push("logins", [{ user: "ann", device: "phone", at: T }]);
    const got: unknown[][] = [];
    const stop = store.subscribe([spend, devices], (vectors) => {
      expectTypeOf(vectors[0]).toEqualTypeOf<{ user: string; clicks_1h: number; spend_1h: number; device: string | null } | undefined>();
      got.push(vectors);
    });
    await store.push("clicks", [
      { user: "ann", amount: 3, at: T + 1000 },
      { user: "bob", amount: 4, at: T + 2000 },
      { user: "ann", amount: 5, at: T + 3000 },
    ]);
    expect(got).toEqual([
      [
        { user: "ann", clicks_1h: 2, spend_1h: 8, device: "phone" },
        { user: "bob", clicks_1h: 1, spend_1h: 4, device: null },
      ],
    ]);
    await store.push("logins", [{ user: "bob", device: "laptop", at: T + 4000 }]);
    expect(got[1]).toEqual([{ user: "bob", clicks_1h: 1, spend_1h: 4, device: "laptop" }]);
    // Replays do not notify; a push of nothing new does not either.
    await store.materializeOffline({ clicks: [{ user: "cy", amount: 1, at: T + 5000 }] });
    await store.push("clicks", []);
    expect(got).toHaveLength(2);
    stop();
    await store.push("clicks", [{ user: "ann", amount: 1, at: T + 6000 }]);
    expect(got).toHaveLength(2);
    const byShop = clicks.groupBy("amount").aggregate({ n: count({ window: "1h" }) }).as("by_amount");
    await store.apply([byShop]);
    expect(() => store.subscribe([spend, byShop], () => {})).toThrow(/must share their key fields/);
    await store.close();
  });
});
