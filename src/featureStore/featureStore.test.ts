import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { t } from "../core/schema.js";
import { avg, count, max, min, sum } from "../dsl/aggregations.js";
import { dataset } from "../dsl/dataset.js";
import { ReadBeforeRetentionError, SchemaError, TimestampError, UnknownDatasetError, UnknownTableError } from "../errors.js";
import { FeatureStore } from "./featureStore.js";

const orders = dataset("orders", { user: t.string(), shop: t.int(), amount: t.float().optional(), at: t.timestamp() }, { timestamp: "at", lateness: "10s" });
const perUser = orders
  .groupBy("user")
  .aggregate({ n_1m: count({ window: "1m" }), total_1m: sum("amount", { window: "1m" }), avg_1m: avg("amount", { window: "1m" }), hi_5m: max("amount", { window: "5m" }), lo_5m: min("amount", { window: "5m" }) })
  .as("per_user");
const perUserShop = orders.groupBy("user", "shop").aggregate({ n: count({ window: "1h" }) }).as("per_user_shop");

const T = Date.UTC(2024, 4, 1, 9);
const sec = (s: number) => T + s * 1000;

async function open(clock: "event" | ManualClock = "event") {
  const store = await FeatureStore.open({ clock });
  await store.apply([orders, perUser, perUserShop]);
  return store;
}

describe("windows read (t − w, t]", () => {
  it("includes an event at exactly t and excludes one at exactly t − w", async () => {
    const store = await open();
    await store.push("orders", [
      { user: "u", shop: 1, amount: 10, at: sec(0) },
      { user: "u", shop: 1, amount: 20, at: sec(30) },
      { user: "u", shop: 2, amount: null, at: sec(60) },
    ]);
    const read = async (s: number) => (await store.getOnline(perUser, [{ user: "u" }], { at: sec(s) }))[0];
    expect(await read(60)).toEqual({ user: "u", n_1m: 2, total_1m: 20, avg_1m: 20, hi_5m: 20, lo_5m: 10 });
    expect(await read(59.999)).toEqual({ user: "u", n_1m: 2, total_1m: 30, avg_1m: 15, hi_5m: 20, lo_5m: 10 });
    expect(await read(90)).toEqual({ user: "u", n_1m: 1, total_1m: 0, avg_1m: null, hi_5m: 20, lo_5m: 10 });
    // Windows decay with no new event.
    expect(await read(400)).toEqual({ user: "u", n_1m: 0, total_1m: 0, avg_1m: null, hi_5m: null, lo_5m: null });
    // At the watermark (60 s − 10 s lateness) the event at 60 s is not visible yet; at 60 s it is.
    expect((await store.getOnline(perUserShop, [{ user: "u", shop: 2 }]))[0]?.n).toBe(0);
    expect(await store.getOnline(perUserShop, [{ user: "u", shop: 1 }, { user: "u", shop: 2 }, { user: "u", shop: 3 }], { at: sec(60) })).toEqual([
      { user: "u", shop: 1, n: 2 },
      { user: "u", shop: 2, n: 1 },
      { user: "u", shop: 3, n: 0 },
    ]);
  });

  it("reads a never-seen key like an empty one", async () => {
    const store = await open();
    expect(await store.getOnline("per_user", [{ user: "nobody" }])).toEqual([{ user: "nobody", n_1m: 0, total_1m: 0, avg_1m: null, hi_5m: null, lo_5m: null }]);
    expect(await store.getHistorical("per_user", [{ user: "nobody", ts: sec(5) }])).toEqual([
      { user: "nobody", ts: sec(5), n_1m: 0, total_1m: 0, avg_1m: null, hi_5m: null, lo_5m: null },
    ]);
  });
});

describe("clocks", () => {
  it("reads at the wall clock by default (an injected clock in tests)", async () => {
    const clock = new ManualClock(sec(10));
    const store = await open(clock);
    await store.push("orders", [{ user: "u", shop: 1, amount: 5, at: sec(0) }]);
    expect((await store.getOnline(perUser, [{ user: "u" }]))[0]?.n_1m).toBe(1);
    clock.set(sec(60));
    expect((await store.getOnline(perUser, [{ user: "u" }]))[0]?.n_1m).toBe(0);
    expect(store.now(perUser)).toEqual(new Date(sec(60)));
  });

  it('reads at the watermark with clock "event"', async () => {
    const store = await open();
    expect(store.now(perUser)).toBeNull();
    await store.push("orders", [{ user: "u", shop: 1, amount: 5, at: sec(0) }, { user: "v", shop: 1, amount: 1, at: sec(65) }]);
    // watermark = 65 s − 10 s lateness = 55 s: u's event is still in its 1 m window.
    expect(store.now(perUser)).toEqual(new Date(sec(55)));
    expect((await store.getOnline(perUser, [{ user: "u" }]))[0]?.n_1m).toBe(1);
  });
});

describe("late and invalid events are never dropped silently", () => {
  it("counts and dead-letters events behind the watermark", async () => {
    const store = await open();
    const r = await store.push("orders", [
      { user: "u", shop: 1, amount: 1, at: sec(100) },
      { user: "u", shop: 1, amount: 2, at: sec(95) }, // within 10 s lateness: accepted
      { user: "u", shop: 1, amount: 3, at: sec(89) }, // behind the watermark (90 s): late
    ]);
    expect(r).toEqual({ read: 3, accepted: 2, late: 1, invalid: 0 });
    const dl = store.deadLetters("orders");
    expect(dl).toHaveLength(1);
    expect(dl[0]).toMatchObject({ reason: "late", eventTime: sec(89), watermark: sec(90), row: { amount: 3 } });
    expect(store.stats().datasets["orders"]).toEqual({ accepted: 2, late: 1, invalid: 0, watermark: new Date(sec(90)) });
    expect(store.stats().state).toBe("memory (not persisted)");
    expect((await store.getOnline(perUser, [{ user: "u" }], { at: sec(100) }))[0]?.total_1m).toBe(3);
  });

  it("throws a typed error naming row and field, and changes nothing", async () => {
    const store = await open();
    const bad = [{ user: "u", shop: 1, amount: 1, at: sec(1) }, { user: "u", shop: "x", amount: 1, at: sec(2) }];
    await expect(store.push("orders", bad)).rejects.toThrow(SchemaError);
    await expect(store.push("orders", bad)).rejects.toThrow(/field "shop" must be a finite number.*row 2, field "shop"/);
    await expect(store.push("orders", [{ user: "u", shop: 1, at: "not a time" }])).rejects.toThrow(TimestampError);
    await expect(store.push("orders", [{ shop: 1, at: sec(1) }])).rejects.toThrow(/missing value for required string field "user"/);
    expect(store.stats().datasets["orders"]?.accepted).toBe(0);
  });

  it('with onError "dead-letter" keeps going and counts invalid rows', async () => {
    const store = await open();
    const r = await store.push(
      "orders",
      [{ user: "u", shop: 1, amount: 1, at: sec(1) }, { user: "u", shop: 1.5, amount: 1, at: sec(2) }, "garbage", { user: "u", shop: 1, amount: 4, at: sec(3) }],
      { onError: "dead-letter" },
    );
    expect(r).toEqual({ read: 4, accepted: 2, late: 0, invalid: 2 });
    expect(store.deadLetters("orders").map((d) => d.reason)).toEqual(["invalid", "invalid"]);
    expect(store.deadLetters("orders")[0]?.message).toMatch(/integer.*row 2/);
  });
});

describe("apply", () => {
  it("builds a table added later from the history its source already has", async () => {
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([orders, perUser]);
    await store.push("orders", [
      { user: "u", shop: 1, amount: 4, at: sec(0) },
      { user: "u", shop: 2, amount: 6, at: sec(30) },
      { user: "w", shop: 2, amount: 1, at: sec(45) },
    ]);
    const before = store.stats().datasets["orders"];
    await store.apply([perUserShop]);
    // Applying again leaves the source's watermark and counters alone.
    expect(store.stats().datasets["orders"]).toEqual(before);
    const keys = [{ user: "u", shop: 1 }, { user: "u", shop: 2 }, { user: "w", shop: 2 }];
    const online = await store.getOnline(perUserShop, keys, { at: sec(45) });
    expect(online.map((r) => r.n)).toEqual([1, 1, 1]);
    expect(await store.getHistorical(perUserShop, keys.map((k) => ({ ...k, ts: sec(45) })))).toEqual(online.map((r) => ({ ...r, ts: sec(45) })));
    await store.push("orders", [{ user: "u", shop: 1, amount: 1, at: sec(50) }]);
    expect((await store.getOnline(perUserShop, [{ user: "u", shop: 1 }], { at: sec(50) }))[0]?.n).toBe(2);
  });
});

describe("input rows", () => {
  it("keeps no reference to them: changing a row after push changes nothing stored", async () => {
    const store = await open();
    const row = { user: "u", shop: 1, amount: 10, at: sec(0), extra: "ignored" };
    await store.push("orders", [row]);
    row.amount = 999;
    row.user = "v";
    expect((await store.getHistorical(perUser, [{ user: "u", ts: sec(1) }]))[0]?.total_1m).toBe(10);
    expect((await store.getOnline(perUser, [{ user: "u" }], { at: sec(1) }))[0]?.total_1m).toBe(10);
    expect((await store.getHistorical(perUser, [{ user: "v", ts: sec(1) }]))[0]?.n_1m).toBe(0);
  });
});

describe("errors", () => {
  it("names unknown tables and datasets", async () => {
    const store = await open();
    await expect(store.getOnline("nope", [])).rejects.toThrow(UnknownTableError);
    await expect(store.getOnline("nope", [])).rejects.toThrow(/per_user, per_user_shop/);
    await expect(store.push("nope", [])).rejects.toThrow(UnknownDatasetError);
    await expect(store.getOnline(perUser, [{ user: "u" }], { at: "soon" })).rejects.toThrow(TimestampError);
    await expect(store.getOnline("per_user", [{ usr: "u" }])).rejects.toThrow(/key field "user"/);
    await expect(store.getHistorical(perUser, [{ user: "u" } as never])).rejects.toThrow(/no readable "ts"/);
  });

  it("refuses online reads older than the kept state", async () => {
    const store = await open();
    await store.push("orders", [{ user: "u", shop: 1, amount: 1, at: sec(0) }]);
    await store.push("orders", [{ user: "u", shop: 1, amount: 1, at: sec(3600) }]);
    await store.push("orders", [{ user: "u", shop: 1, amount: 1, at: sec(3601) }]);
    await expect(store.getOnline(perUser, [{ user: "u" }], { at: sec(10) })).rejects.toThrow(ReadBeforeRetentionError);
    // The history still answers it.
    expect((await store.getHistorical(perUser, [{ user: "u", ts: sec(10) }]))[0]?.n_1m).toBe(1);
  });
});

describe("materializeOffline", () => {
  it("sorts by event time before replaying, reports progress and emits table history", async () => {
    const store = await open();
    const phases: string[] = [];
    const emitted: Array<[string, number, number]> = [];
    const r = await store.materializeOffline(
      {
        orders: [
          { user: "u", shop: 1, amount: 3, at: sec(20) },
          { user: "u", shop: 1, amount: 1, at: sec(0) },
          { user: "v", shop: 1, amount: 7, at: sec(20) },
          { user: "u", shop: 1, amount: 2, at: sec(20) },
        ],
      },
      {
        onProgress: (p) => phases.push(`${p.phase}:${p.rows}`),
        onTableRows: (table, rows) => {
          if (table !== "per_user") return;
          for (let i = 0; i < rows.length; i++) emitted.push([String(rows.keys[i]?.[0]), rows.ts[i] ?? 0, Number(rows.values[1]?.[i] ?? 0)]);
        },
      },
    );
    expect(r).toEqual({ orders: { read: 4, accepted: 4, late: 0, invalid: 0 } });
    expect(phases).toEqual(["read:4", "replay:4"]);
    // One row per (key, event time); ties at 20 s are both included.
    expect(emitted.sort()).toEqual([
      ["u", sec(0), 1],
      ["u", sec(20), 6],
      ["v", sec(20), 7],
    ]);
  });
});

describe("materializeOffline of an array in time order", () => {
  it("streams it without sorting, with times as numbers, Dates or ISO text, and gives what the sorted path gives", async () => {
    const at = [0, 5, 5, 20, 61];
    const asGiven = (i: number): number | Date | string => (i % 3 === 0 ? sec(at[i] as number) : i % 3 === 1 ? new Date(sec(at[i] as number)) : new Date(sec(at[i] as number)).toISOString());
    const rows = at.map((_, i) => ({ user: i % 2 === 0 ? "u" : "v", shop: 1, amount: i + 1, at: asGiven(i) }));
    const run = async (input: typeof rows): Promise<{ phases: string[]; out: Array<[string, number, number]> }> => {
      const store = await open();
      const phases: string[] = [];
      const out: Array<[string, number, number]> = [];
      await store.materializeOffline(
        { orders: input },
        {
          onProgress: (p) => phases.push(p.phase),
          onTableRows: (table, r) => {
            if (table === "per_user") for (let i = 0; i < r.length; i++) out.push([String(r.keys[i]?.[0]), r.ts[i] ?? 0, Number(r.values[1]?.[i])]);
          },
        },
      );
      await store.close();
      return { phases, out: out.sort() };
    };
    const inOrder = await run(rows);
    // In order: replayed batch by batch as it is read, no "read" phase of a sort.
    expect(inOrder.phases).toEqual(["replay"]);
    const shuffled = await run([rows[3], rows[0], rows[4], rows[2], rows[1]] as typeof rows);
    expect(shuffled.phases).toEqual(["read", "replay"]);
    expect(inOrder.out).toEqual(shuffled.out);
    expect(inOrder.out).toEqual([
      ["u", sec(0), 1],
      ["u", sec(5), 4],
      ["u", sec(61), 8],
      ["v", sec(5), 2],
      ["v", sec(20), 6],
    ]);
  });
});

describe("getHistorical over several tables", () => {
  it("joins each table's point-in-time features to the entity rows, each table reading its own keys", async () => {
    const store = await open();
    await store.materializeOffline({
      orders: [
        { user: "a", shop: 1, amount: 10, at: sec(0) },
        { user: "a", shop: 2, amount: 5, at: sec(30) },
        { user: "a", shop: 1, amount: 1, at: sec(90) },
      ],
    });
    const entities = [
      { user: "a", shop: 1, ts: sec(30) },
      { user: "a", shop: 2, ts: sec(29) },
      { user: "a", shop: 1, ts: sec(120) },
    ];
    const both = await store.getHistorical([perUser, perUserShop], entities);
    const one = await store.getHistorical(perUser, entities);
    const two = await store.getHistorical(perUserShop, entities);
    expect(both).toEqual(entities.map((e, i) => ({ ...one[i], ...two[i], ...e })));
    expect(both.map((r) => [r.n_1m, r.n])).toEqual([[2, 1], [1, 0], [1, 2]]);
    await expect(store.getHistorical([perUser, perUser], entities)).rejects.toThrow(/both have a feature "n_1m"/);
    await expect(store.getHistorical([], entities)).rejects.toThrow(/empty/);
    await store.close();
  });
});
