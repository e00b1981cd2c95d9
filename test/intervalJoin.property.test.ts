/**
 * Interval joins under the consistency invariant: impressions and clicks
 * (two sources, each with its lateness) joined on the user when the click is
 * from `lower` before to `upper` after the impression; each pair is an event
 * at max(impression time, click time). Online reads at and after the table's
 * watermark equal point-in-time reads and a recomputation of every pair.
 * Pairs at the same time are common (times on a grid): `first`/`last` and
 * float sums, which depend on their order, agree bit for bit between the
 * online state and the replay (which follows the recorded arrival order).
 */
import fc from "fast-check";
import { describe, expect, expectTypeOf, it } from "vitest";
import { accepted, grid, watermarkOf } from "./helpers/eventTime.js";
import { count, dataset, FeatureStore, first, last, sum, t, type InferRow } from "../src/index.js";

interface Ev {
  user: string;
  v: number;
  /** v plus cents: float sums of it depend on the order of addition. */
  p: number;
  ts: number;
}
const USERS = ["ann", "bob"];
const BASE = Date.UTC(2025, 0, 1);


describe("interval join (property)", () => {
  it("online == offline == every pair recomputed", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          impLateness: grid(20),
          clickLateness: grid(20),
          lower: grid(10),
          upper: grid(20),
          window: grid(40).map((x) => x + 100),
          steps: fc.array(
            fc.record({ click: fc.boolean(), user: fc.constantFrom(...USERS), dt: grid(5), back: fc.oneof(fc.constant(0), grid(30)), v: fc.integer({ min: 1, max: 9 }), cents: fc.integer({ min: 1, max: 99 }), flush: fc.boolean() }),
            { minLength: 1, maxLength: 60 },
          ),
        }),
        async (sc) => {
          const schema = { user: t.string(), v: t.float(), p: t.float(), ts: t.timestamp() };
          const impressions = dataset("impressions", schema, { timestamp: "ts", lateness: sc.impLateness });
          const clicks = dataset("clicks", schema, { timestamp: "ts", lateness: sc.clickLateness });
          const w = { window: sc.window };
          const pairs = impressions
            .intervalJoin(clicks, { on: ["user"], lower: sc.lower, upper: sc.upper, prefix: "click_" })
            .groupBy("user")
            .aggregate({ n: count(w), clicked: sum("click_v", w), shown: sum("v", w), lastClick: last("click_p", w), firstShown: first("p", w), money: sum("click_p", w) })
            .as("pairs");
          const store = await FeatureStore.open({ clock: "event" });
          await store.apply([impressions, clicks, pairs]);
          let now = BASE;
          const sent: { imp: Ev[]; click: Ev[] } = { imp: [], click: [] };
          const pending: { imp: Ev[]; click: Ev[] } = { imp: [], click: [] };
          const flush = async () => {
            if (pending.imp.length > 0) await store.push("impressions", pending.imp.splice(0));
            if (pending.click.length > 0) await store.push("clicks", pending.click.splice(0));
          };
          for (const s of sc.steps) {
            now += s.dt;
            const e = { user: s.user, v: s.v, p: s.v + s.cents / 100, ts: now - s.back };
            sent[s.click ? "click" : "imp"].push(e);
            pending[s.click ? "click" : "imp"].push(e);
            if (s.flush) await flush();
          }
          await flush();
          const imps = accepted(sent.imp, sc.impLateness);
          const cls = accepted(sent.click, sc.clickLateness);
          const wm = watermarkOf;
          const tableWm = Math.min(wm(imps, sc.impLateness), wm(cls, sc.clickLateness));
          const all: Array<{ user: string; ts: number; v: number; cv: number }> = [];
          for (const i of imps) for (const c of cls) if (i.user === c.user && c.ts >= i.ts - sc.lower && c.ts <= i.ts + sc.upper) all.push({ user: i.user, ts: Math.max(i.ts, c.ts), v: i.v, cv: c.v });
          if (Number.isFinite(tableWm)) {
            for (const at of [tableWm, tableWm + Math.floor(sc.window / 2), tableWm + sc.window]) {
              const online = await store.getOnline(pairs, USERS.map((user) => ({ user })), { at });
              const offline = await store.getHistorical(pairs, USERS.map((user) => ({ user, ts: at })));
              expect(online).toEqual(offline.map(({ ts: _ts, ...r }) => r));
              expect(online.map(({ lastClick: _l, firstShown: _f, money: _m, ...r }) => r)).toEqual(
                USERS.map((user) => {
                  const win = all.filter((p) => p.user === user && p.ts > at - sc.window && p.ts <= at);
                  return { user, n: win.length, clicked: win.reduce((a, p) => a + p.cv, 0), shown: win.reduce((a, p) => a + p.v, 0) };
                }),
              );
            }
          }
          await store.close();
        },
      ),
      { numRuns: 150, seed: 20261127 },
    );
  });

  it("keeps a row as long as a row of the other side can still pair with it", async () => {
    const imp = dataset("imp", { user: t.string(), ts: t.timestamp() }, { timestamp: "ts" });
    const click = dataset("click", { user: t.string(), ts: t.timestamp() }, { timestamp: "ts", lateness: 100 });
    const pairs = imp.intervalJoin(click, { on: ["user"], lower: 0, upper: 500, prefix: "c_" }).groupBy("user").aggregate({ n: count({ window: "1h" }) }).as("pairs");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([imp, click, pairs]);
    await store.push("imp", [{ user: "u", ts: 1000 }]);
    await store.push("click", [{ user: "u", ts: 1600 }]); // too long after the impression; the clicks' watermark is now 1500
    await store.push("click", [{ user: "u", ts: 1600 }]); // the impression at 1000 = 1500 − upper must still be kept
    await store.push("click", [{ user: "u", ts: 1500 }]); // not late (>= 1500), exactly `upper` after the impression
    expect(await store.getOnline(pairs, [{ user: "u" }], { at: 1600 })).toEqual([{ user: "u", n: 1 }]);
    expect(store.explain(pairs)).toContain("interval join click on [user] = [user]");
    await store.close();
  });

  it("types the joined row and refuses bad definitions", () => {
    const a = dataset("a", { user: t.string(), x: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
    const b = dataset("b", { uid: t.string(), y: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
    expect(() => a.intervalJoin(b, { on: ["user"], otherOn: ["uid"], lower: "1m", upper: 0 })).toThrow(/field "ts" is in both streams; give a prefix/);
    const j = a.intervalJoin(b, { on: ["user"], otherOn: ["uid"], lower: "1m", upper: 0, prefix: "b_" });
    expectTypeOf<InferRow<typeof j>>().toEqualTypeOf<{ user: string; x: number; ts: number; b_y: number; b_ts: number }>();
    expect(j.node.kind).toBe("intervalJoin");
    const c = dataset("c", { user: t.int(), ts: t.timestamp() }, { timestamp: "ts" });
    expect(() => a.intervalJoin(c, { on: ["user"], lower: 0, upper: "1s", prefix: "c_" })).toThrow(/key type mismatch: "user" is string but "user" is int/);
    expect(() => a.intervalJoin(b, { on: ["user"], lower: "soon" as "1s", upper: 0, prefix: "b_" })).toThrow();
  });
});
