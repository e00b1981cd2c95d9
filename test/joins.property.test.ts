/**
 * Temporal lookup joins under the consistency invariant. Orders (a stream)
 * are joined with users (a keyed dataset) as of each order's event time, then
 * aggregated per user. Both sources get random, interleaved batches with
 * out-of-order events; a joined order is released once the users' watermark
 * has passed it. Checked:
 *   - online reads equal a recomputation over the orders released so far
 *     (those before the users' watermark), each joined with the latest user
 *     row at or before it (within the bound);
 *   - after both sources went idle, online reads equal point-in-time reads
 *     and the recomputation over every accepted order.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accepted, grid } from "./helpers/eventTime.js";
import { count, dataset, FeatureStore, last, ManualClock, sum, t } from "../src/index.js";

interface Order {
  user: string;
  amount: number;
  ts: number;
}
interface User {
  user: string;
  tier: string;
  ts: number;
}

const USERS = ["ann", "bob", "cy"];
const BASE = Date.UTC(2025, 0, 1);

const scenario = fc.record({
  orderLateness: grid(20),
  userLateness: grid(20),
  within: fc.oneof(fc.constant(undefined), grid(30).map((x) => x + 100)),
  how: fc.constantFrom("inner" as const, "left" as const),
  window: grid(50).map((x) => x + 100),
  steps: fc.array(
    fc.record({
      side: fc.constantFrom("order", "user"),
      user: fc.constantFrom(...USERS),
      dt: grid(5),
      back: fc.oneof(fc.constant(0), grid(30)),
      amount: fc.integer({ min: 1, max: 100 }),
      tier: fc.constantFrom("gold", "silver", "none"),
      flush: fc.boolean(),
    }),
    { minLength: 1, maxLength: 80 },
  ),
});


describe("lookup join: online == offline == recomputation (property)", () => {
  it("holds over random interleavings of both sources", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const orders = dataset("orders", { user: t.string(), amount: t.float(), ts: t.timestamp() }, { timestamp: "ts", lateness: sc.orderLateness, idleTimeout: "1m" });
        const users = dataset("users", { user: t.string(), tier: t.string(), ts: t.timestamp() }, { timestamp: "ts", key: ["user"], lateness: sc.userLateness, idleTimeout: "1m" });
        const joined = orders.join(users, { how: sc.how, ...(sc.within === undefined ? {} : { within: sc.within }) });
        const perUser = joined
          .groupBy("user")
          .aggregate({ n: count({ window: sc.window }), spend: sum("amount", { window: sc.window }), tier: last("tier", { window: sc.window }) })
          .as("per_user");
        const clock = new ManualClock(BASE);
        const store = await FeatureStore.open({ clock });
        await store.apply([orders, users, perUser]);

        let now = BASE;
        const sentOrders: Order[] = [];
        const sentUsers: User[] = [];
        let batchO: Order[] = [];
        let batchU: User[] = [];
        const flush = async () => {
          if (batchO.length > 0) await store.push("orders", batchO.splice(0));
          if (batchU.length > 0) await store.push("users", batchU.splice(0));
        };
        for (const s of sc.steps) {
          now += s.dt;
          if (s.side === "order") {
            const o = { user: s.user, amount: s.amount, ts: now - s.back };
            sentOrders.push(o);
            batchO.push(o);
          } else {
            const u = { user: s.user, tier: s.tier, ts: now - s.back };
            sentUsers.push(u);
            batchU.push(u);
          }
          if (s.flush) await flush();
        }
        await flush();
        const accO = accepted(sentOrders, sc.orderLateness);
        const accU = accepted(sentUsers, sc.userLateness);
        const userWm = accU.length === 0 ? Number.NEGATIVE_INFINITY : Math.max(...accU.map((u) => u.ts)) - sc.userLateness;
        const orderWm = accO.length === 0 ? Number.NEGATIVE_INFINITY : Math.max(...accO.map((o) => o.ts)) - sc.orderLateness;

        // Users in event-time order, ties in arrival order: the as-of lookup.
        const userVersions = accU.map((u, i) => ({ u, i })).sort((a, b) => a.u.ts - b.u.ts || a.i - b.i).map((x) => x.u);
        const lookup = (o: Order): User | undefined => {
          let found: User | undefined;
          for (const u of userVersions) if (u.user === o.user && u.ts <= o.ts) found = u;
          if (found !== undefined && sc.within !== undefined && o.ts - found.ts > sc.within) return undefined;
          return found;
        };
        const expected = (released: readonly Order[], user: string, at: number) => {
          const rows = released
            .filter((o) => o.user === user && o.ts > at - sc.window && o.ts <= at)
            .map((o) => ({ o, u: lookup(o) }))
            .filter((x) => sc.how === "left" || x.u !== undefined);
          const ordered = rows.map((x, i) => ({ ...x, i })).sort((a, b) => a.o.ts - b.o.ts || a.i - b.i);
          const tiers = ordered.map((x) => x.u?.tier ?? null).filter((x) => x !== null);
          return { user, n: rows.length, spend: rows.reduce((a, x) => a + x.o.amount, 0), tier: tiers.at(-1) ?? null };
        };

        // Mid-stream: online sees the orders released so far (before the users' watermark).
        const tableWm = Math.min(orderWm, userWm);
        if (Number.isFinite(tableWm)) {
          const released = accO.filter((o) => o.ts < userWm);
          const at = Math.max(tableWm, orderWm);
          const online = await store.getOnline(perUser, USERS.map((user) => ({ user })), { at });
          expect(online).toEqual(USERS.map((u) => expected(released, u, at)));
        }

        // Both sources idle for their timeout: everything is released.
        clock.advance(60_000);
        const end = Math.max(orderWm, userWm, BASE);
        for (const at of [end, end + Math.floor(sc.window / 2), end + sc.window]) {
          const online = await store.getOnline(perUser, USERS.map((user) => ({ user })), { at });
          const offline = await store.getHistorical(perUser, USERS.map((user) => ({ user, ts: at })));
          expect(online).toEqual(offline.map(({ ts: _ts, ...r }) => r));
          expect(online).toEqual(USERS.map((u) => expected(accO, u, at)));
        }
        await store.close();
      }),
      { numRuns: 200, seed: 20261125 },
    );
  });
});
