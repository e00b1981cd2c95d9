/**
 * Row operators and custom operators under the consistency invariant. Random
 * orders (in event-time order, as dedup and count windows are defined on the
 * arrival order) go through rename, dropNull, dedup, map + explode into an
 * aggregate, and through a count-window custom operator; random batch
 * splits. Online reads equal point-in-time reads and a recomputation.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { count, dataset, FeatureStore, lastK, sum, t } from "../src/index.js";

interface Order {
  id: string;
  user: string;
  items: string | null;
  price: number;
  ts: number;
}
const USERS = ["ann", "bob"];
const BASE = Date.UTC(2025, 0, 1);

describe("row operators and custom operators: online == offline == recomputation (property)", () => {
  it("holds over random orders", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          dedupWindow: fc.integer({ min: 1, max: 3000 }),
          window: fc.integer({ min: 1, max: 5000 }),
          size: fc.integer({ min: 1, max: 4 }),
          slide: fc.integer({ min: 1, max: 3 }),
          orders: fc.array(
            fc.record({
              id: fc.constantFrom("o1", "o2", "o3", "o4", "o5", "o6"),
              user: fc.constantFrom(...USERS),
              items: fc.oneof(fc.constant(null), fc.constantFrom("a", "a,b", "b,c,d", "")),
              price: fc.integer({ min: 1, max: 50 }),
              dt: fc.integer({ min: 0, max: 900 }),
            }),
            { minLength: 1, maxLength: 60 },
          ),
          splits: fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 6 }),
        }),
        async (sc) => {
          const orders = dataset("orders", { id: t.string(), user: t.string(), items: t.string().optional(), price: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
          const items = orders
            .rename({ user: "buyer" })
            .dropNull("items")
            .dedup({ by: ["id"], window: sc.dedupWindow })
            .map((o) => ({ buyer: o.buyer, item: o.items.split(",").filter((x) => x !== ""), price: o.price, ts: o.ts }))
            .explode("item")
            .groupBy("buyer")
            .aggregate({ n: count({ window: sc.window }), spend: sum("price", { window: sc.window }), last: lastK("item", { window: sc.window, k: 2 }) })
            .as("items");
          const windows = orders
            .groupBy("user")
            .window({ size: sc.size, slide: sc.slide })
            .apply((w) => ({ total: w.reduce((a, o) => a + o.price, 0), first_id: w[0]?.id ?? "" }), { output: { total: t.float(), first_id: t.string() } })
            .as("windows");
          const store = await FeatureStore.open({ clock: "event" });
          await store.apply([orders, items, windows]);
          let now = BASE;
          const all: Order[] = sc.orders.map((o) => ({ id: o.id, user: o.user, items: o.items, price: o.price, ts: (now += o.dt) }));
          let i = 0;
          let k = 0;
          while (i < all.length) {
            const n = sc.splits[k++ % sc.splits.length] as number;
            await store.push("orders", all.slice(i, i + n));
            i += n;
          }
          const end = (all[all.length - 1] as Order).ts;
          // Recomputation: dedup keeps an order unless a kept one with its id is less than the window before it.
          const kept: Order[] = [];
          const lastKept = new Map<string, number>();
          for (const o of all.filter((x) => x.items !== null)) {
            const prev = lastKept.get(o.id);
            if (prev !== undefined && Math.abs(o.ts - prev) < sc.dedupWindow) continue;
            lastKept.set(o.id, o.ts);
            kept.push(o);
          }
          const exploded = kept.flatMap((o) => (o.items as string).split(",").filter((x) => x !== "").map((item) => ({ user: o.user, item, price: o.price, ts: o.ts })));
          for (const at of [end, end + Math.floor(sc.window / 2)]) {
            const online = await store.getOnline(items, USERS.map((buyer) => ({ buyer })), { at });
            const offline = await store.getHistorical(items, USERS.map((buyer) => ({ buyer, ts: at })));
            expect(online).toEqual(offline.map(({ ts: _ts, ...r }) => r));
            expect(online).toEqual(
              USERS.map((buyer) => {
                const win = exploded.filter((e) => e.user === buyer && e.ts > at - sc.window && e.ts <= at);
                return { buyer, n: win.length, spend: win.reduce((a, e) => a + e.price, 0), last: win.map((e) => e.item).slice(-2).reverse() };
              }),
            );
            const wOnline = await store.getOnline(windows, USERS.map((user) => ({ user })), { at });
            const wOffline = await store.getHistorical(windows, USERS.map((user) => ({ user, ts: at })));
            expect(wOnline).toEqual(wOffline.map(({ ts: _ts, ...r }) => r));
            expect(wOnline).toEqual(
              USERS.map((user) => {
                const mine = all.filter((o) => o.user === user && o.ts <= at);
                // Fires at records size, size + slide, ...: the latest firing's window.
                let fired = -1;
                for (let c = sc.size; c <= mine.length; c += sc.slide) fired = c;
                if (fired < 0) return { user, total: null, first_id: null };
                const w = mine.slice(fired - sc.size, fired);
                return { user, total: w.reduce((a, o) => a + o.price, 0), first_id: (w[0] as Order).id };
              }),
            );
          }
          await store.close();
        },
      ),
      { numRuns: 150, seed: 20261129 },
    );
  });
});
