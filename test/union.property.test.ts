/**
 * Union of two sources feeding one table: web and app clicks (same fields),
 * each source with its own lateness, pushed in random interleaved batches.
 * The table's watermark is the smaller of the two; online reads at or after
 * it equal point-in-time reads and a recomputation over both sources'
 * accepted events. (Features here do not depend on the order of events at the
 * same time: across sources, ties are ordered by arrival online and by union
 * branch in a replay.)
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accepted, grid, watermarkOf } from "./helpers/eventTime.js";
import { count, dataset, FeatureStore, ManualClock, max, sum, t } from "../src/index.js";

interface Click {
  user: string;
  amount: number;
  ts: number;
}
const USERS = ["ann", "bob"];
const BASE = Date.UTC(2025, 0, 1);


describe("union of two sources (property)", () => {
  it("online == offline == recomputation at and after the table's watermark", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          webLateness: grid(20),
          appLateness: grid(20),
          window: grid(40).map((x) => x + 100),
          steps: fc.array(
            fc.record({ app: fc.boolean(), user: fc.constantFrom(...USERS), dt: grid(5), back: fc.oneof(fc.constant(0), grid(30)), amount: fc.integer({ min: 1, max: 9 }), flush: fc.boolean() }),
            { minLength: 1, maxLength: 60 },
          ),
        }),
        async (sc) => {
          const web = dataset("web", { user: t.string(), amount: t.float(), ts: t.timestamp() }, { timestamp: "ts", lateness: sc.webLateness });
          const app = dataset("app", { user: t.string(), amount: t.float(), ts: t.timestamp() }, { timestamp: "ts", lateness: sc.appLateness });
          const both = web
            .union(app.filter((c) => c.amount > 2))
            .groupBy("user")
            .aggregate({ n: count({ window: sc.window }), spend: sum("amount", { window: sc.window }), hi: max("amount", { window: sc.window }) })
            .as("both");
          const store = await FeatureStore.open({ clock: "event" });
          await store.apply([web, app, both]);
          let now = BASE;
          const sent: { web: Click[]; app: Click[] } = { web: [], app: [] };
          const pending: { web: Click[]; app: Click[] } = { web: [], app: [] };
          const flush = async () => {
            if (pending.web.length > 0) await store.push("web", pending.web.splice(0));
            if (pending.app.length > 0) await store.push("app", pending.app.splice(0));
          };
          for (const s of sc.steps) {
            now += s.dt;
            const c = { user: s.user, amount: s.amount, ts: now - s.back };
            sent[s.app ? "app" : "web"].push(c);
            pending[s.app ? "app" : "web"].push(c);
            if (s.flush) await flush();
          }
          await flush();
          const events = [...accepted(sent.web, sc.webLateness), ...accepted(sent.app, sc.appLateness).filter((c) => c.amount > 2)];
          const wm = watermarkOf;
          const tableWm = Math.min(wm(accepted(sent.web, sc.webLateness), sc.webLateness), wm(accepted(sent.app, sc.appLateness), sc.appLateness));
          if (!Number.isFinite(tableWm)) {
            await store.close();
            return;
          }
          expect(store.now(both)?.getTime()).toBe(tableWm);
          for (const at of [tableWm, tableWm + Math.floor(sc.window / 2), tableWm + sc.window]) {
            const online = await store.getOnline(both, USERS.map((user) => ({ user })), { at });
            const offline = await store.getHistorical(both, USERS.map((user) => ({ user, ts: at })));
            expect(online).toEqual(offline.map(({ ts: _ts, ...r }) => r));
            const expected = USERS.map((user) => {
              const win = events.filter((c) => c.user === user && c.ts > at - sc.window && c.ts <= at);
              return { user, n: win.length, spend: win.reduce((a, c) => a + c.amount, 0), hi: win.length === 0 ? null : Math.max(...win.map((c) => c.amount)) };
            });
            expect(online).toEqual(expected);
          }
          await store.close();
        },
      ),
      { numRuns: 150, seed: 20261126 },
    );
  });

  it("refuses streams of different fields, merges two branches of one source, and drops rows behind the table's watermark after an idle source returns", async () => {
    const a = dataset("a", { user: t.string(), x: t.float(), ts: t.timestamp() }, { timestamp: "ts", idleTimeout: "1s" });
    const b = dataset("b", { user: t.string(), y: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
    expect(() => a.union(b as never)).toThrow(/union: the streams have different fields/);
    const small = a.filter((r) => r.x < 5);
    const big = a.filter((r) => r.x >= 5).map((r) => ({ ...r, x: r.x * 10 }));
    const split = small.union(big).groupBy("user").aggregate({ s: sum("x", { window: "1h" }) }).as("split");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([a, split]);
    await store.push("a", [{ user: "u", x: 1, ts: 1000 }, { user: "u", x: 7, ts: 2000 }]);
    expect(await store.getOnline(split, [{ user: "u" }])).toEqual([{ user: "u", s: 71 }]);
    expect(store.explain(split)).toContain("union with a");
    await store.close();

    // An idle source no longer holds the table back; its rows behind the table's watermark are then late for it.
    const c = dataset("c", { user: t.string(), x: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
    const merged = a.union(c).groupBy("user").aggregate({ n: count({ window: "1h" }) }).as("merged");
    const clock = new ManualClock(0);
    const s2 = await FeatureStore.open({ clock });
    await s2.apply([a, c, merged]);
    await s2.push("a", [{ user: "u", x: 1, ts: 1000 }]);
    await s2.push("c", [{ user: "u", x: 1, ts: 5000 }]);
    clock.advance(2000); // a is idle now
    await s2.push("c", [{ user: "u", x: 1, ts: 6000 }]);
    const report = await s2.push("a", [{ user: "u", x: 1, ts: 2000 }, { user: "u", x: 1, ts: 7000 }]);
    expect(report.accepted).toBe(2); // both are fine for dataset a itself
    const letters = s2.deadLetters("a");
    expect(letters).toHaveLength(1);
    expect(letters[0]?.message).toMatch(/before the watermark .* of union table "merged"/);
    expect(await s2.getOnline(merged, [{ user: "u" }], { at: 7000 })).toEqual([{ user: "u", n: 4 }]);
    await s2.close();
  });
});
