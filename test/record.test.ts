import { describe, expect, it } from "vitest";
import { t } from "../src/core/schema.js";
import { count } from "../src/dsl/aggregations.js";
import { dataset } from "../src/dsl/dataset.js";
import { FeatureStore } from "../src/featureStore/featureStore.js";

describe("recording per source", () => {
  it("record: false serves online but keeps no history, and refuses the reads that need it", async () => {
    const ticks = dataset("ticks", { sym: t.string(), ts: t.timestamp() }, { timestamp: "ts", record: false });
    const n = ticks.groupBy("sym").aggregate({ n_1m: count({ window: "1m" }) }).as("n");
    const recorded = dataset("trades", { sym: t.string(), ts: t.timestamp() }, { timestamp: "ts" });
    const m = recorded.groupBy("sym").aggregate({ n_1m: count({ window: "1m" }) }).as("m");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([ticks, n, recorded, m]);
    await store.push("ticks", [{ sym: "A", ts: 1000 }, { sym: "A", ts: 2000 }]);
    await store.push("trades", [{ sym: "A", ts: 1000 }]);
    expect(await store.getOnline(n, [{ sym: "A" }])).toEqual([{ sym: "A", n_1m: 2 }]);
    await expect(store.getHistorical(n, [{ sym: "A", ts: 5000 }])).rejects.toThrow(/reads dataset "ticks", which is not recorded/);
    await expect(store.getOffline(n)).rejects.toMatchObject({ code: "INVALID_DEFINITION" });
    await expect(store.replay({ sources: ["ticks"], into: () => {} })).rejects.toThrow(/not recorded/);
    const events: number[] = [];
    await store.replay({ sources: ["trades"], into: (b) => void events.push(...b.ts) });
    expect(events).toEqual([1000]);
    expect(await store.getHistorical(m, [{ sym: "A", ts: 5000 }])).toEqual([{ sym: "A", ts: 5000, n_1m: 1 }]);
    await store.close();
  });
});
