/**
 * Union of two sources feeding one table: web and app clicks (same fields),
 * each source with its own lateness, pushed in random interleaved batches.
 * The table's watermark is the smaller of the two; online reads at or after
 * it equal point-in-time reads and a recomputation over both sources'
 * accepted events. Times lie on a grid, so events of the two sources at
 * exactly the same time are common: `first`/`last` and float sums depend on
 * their order, which online is the order of processing and in a replay comes
 * from the arrival numbers recorded with the history; the two agree exactly.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accepted, grid, watermarkOf } from "./helpers/eventTime.js";
import { count, dataset, FeatureStore, first, last, ManualClock, max, sum, t } from "../src/index.js";

interface Click {
  user: string;
  amount: number;
  price: number;
  ts: number;
  /** Which push made it and where in it: the order the store processed it. */
  seq: number;
}
const USERS = ["ann", "bob"];
const BASE = Date.UTC(2025, 0, 1);

/** A's features over the events of a window, given in processing order. */
function expectedFor(user: string, win: readonly Click[]): Record<string, unknown> {
  const byTime = [...win].sort((a, b) => a.ts - b.ts || a.seq - b.seq); // stable in processing order
  return {
    user,
    n: win.length,
    spend: win.reduce((a, c) => a + c.amount, 0),
    hi: win.length === 0 ? null : Math.max(...win.map((c) => c.amount)),
    firstPrice: byTime[0]?.price ?? null,
    lastPrice: byTime[byTime.length - 1]?.price ?? null,
  };
}

describe("union of two sources (property)", () => {
  it("online == offline == recomputation at and after the table's watermark, ties across sources included", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          webLateness: grid(20),
          appLateness: grid(20),
          window: grid(40).map((x) => x + 100),
          steps: fc.array(
            fc.record({
              app: fc.boolean(),
              user: fc.constantFrom(...USERS),
              dt: grid(3),
              back: fc.oneof(fc.constant(0), grid(30)),
              amount: fc.integer({ min: 1, max: 9 }),
              cents: fc.integer({ min: 1, max: 99 }),
              flush: fc.boolean(),
            }),
            { minLength: 1, maxLength: 60 },
          ),
        }),
        async (sc) => {
          const schema = { user: t.string(), amount: t.float(), price: t.float(), ts: t.timestamp() };
          const web = dataset("web", schema, { timestamp: "ts", lateness: sc.webLateness });
          const app = dataset("app", schema, { timestamp: "ts", lateness: sc.appLateness });
          const w = { window: sc.window };
          const both = web
            .union(app.filter((c) => c.amount > 2))
            .groupBy("user")
            .aggregate({
              n: count(w),
              spend: sum("amount", w),
              hi: max("amount", w),
              firstPrice: first("price", w),
              lastPrice: last("price", w),
              money: sum("price", w),
            })
            .as("both");
          const store = await FeatureStore.open({ clock: "event" });
          await store.apply([web, app, both]);
          let now = BASE;
          let seq = 0;
          const sent: { web: Click[]; app: Click[] } = { web: [], app: [] };
          const pending: { web: Click[]; app: Click[] } = { web: [], app: [] };
          const flush = async () => {
            // Web's batch, then app's: the order the store processes them in.
            for (const name of ["web", "app"] as const) {
              if (pending[name].length === 0) continue;
              for (const c of pending[name]) c.seq = seq++;
              sent[name].push(...pending[name]);
              await store.push(name, pending[name].splice(0).map(({ seq: _s, ...c }) => c));
            }
          };
          for (const s of sc.steps) {
            now += s.dt;
            const c = { user: s.user, amount: s.amount, price: s.amount + s.cents / 100, ts: now - s.back, seq: -1 };
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
            // Bit for bit, float sums included.
            expect(online).toEqual(offline.map(({ ts: _ts, ...r }) => r));
            USERS.forEach((user, i) => {
              const win = events.filter((c) => c.user === user && c.ts > at - sc.window && c.ts <= at);
              const { money, ...rest } = online[i] as Record<string, unknown>;
              expect(rest).toEqual(expectedFor(user, win));
              if (win.length === 0) expect(money).toBe(0);
              else expect(money).toBeCloseTo(win.reduce((a, c) => a + c.price, 0), 9);
            });
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
    const c3 = dataset("c3", { user: t.string(), x: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
    const dedupBetween = a.union(c3).dedup({ by: ["user"], window: "1m" }).union(a).groupBy("user").aggregate({ n: count({ window: "1h" }) }).as("dd");
    const probe = await FeatureStore.open();
    await expect(probe.apply([a, c3, dedupBetween])).rejects.toThrow(/dedup between two unions is not supported/);
    await probe.close();
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
    // Point-in-time reads leave the dropped row out too (the history records what the table dropped).
    expect(await s2.getHistorical(merged, [{ user: "u", ts: 7000 }])).toEqual([{ user: "u", ts: 7000, n: 4 }]);
    await s2.close();
  });

  it("a row dropped as late by a union table after its source was idle stays out of point-in-time reads, also from a reopened data directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "freshet-union-idle-"));
    try {
      const a = dataset("a", { user: t.string(), x: t.float(), ts: t.timestamp() }, { timestamp: "ts", idleTimeout: "1s" });
      const c = dataset("c", { user: t.string(), x: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
      const merged = a.union(c).groupBy("user").aggregate({ n: count({ window: "1h" }), s: sum("x", { window: "1h" }) }).as("merged");
      const aOnly = a.groupBy("user").aggregate({ n: count({ window: "1h" }) }).as("a_only");
      const clock = new ManualClock(0);
      let store = await FeatureStore.open({ dir, clock });
      await store.apply([a, c, merged, aOnly]);
      await store.push("a", [{ user: "u", x: 1, ts: 1000 }]);
      await store.push("c", [{ user: "u", x: 10, ts: 5000 }]);
      clock.advance(2000); // a is idle now
      await store.push("c", [{ user: "u", x: 100, ts: 6000 }]);
      await store.push("a", [{ user: "u", x: 1000, ts: 2000 }, { user: "u", x: 10000, ts: 7000 }]);
      const keys = [{ user: "u", ts: 7000 }];
      const expected = [{ user: "u", ts: 7000, n: 4, s: 10111 }];
      expect(await store.getHistorical(merged, keys)).toEqual(expected);
      // The row is late only for the union table: a's own table counts it.
      expect(await store.getHistorical(aOnly, keys)).toEqual([{ user: "u", ts: 7000, n: 3 }]);
      await store.close();
      store = await FeatureStore.open({ dir, clock });
      await store.apply([a, c, merged, aOnly]);
      expect(await store.getOnline(merged, [{ user: "u" }], { at: 7000 })).toEqual([{ user: "u", n: 4, s: 10111 }]);
      expect(await store.getHistorical(merged, keys)).toEqual(expected);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it("orders ties of two branches of one source as they were processed, across pushes", async () => {
    const a = dataset("a", { user: t.string(), x: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
    const small = a.filter((r) => r.x < 5);
    const big = a.filter((r) => r.x >= 5).map((r) => ({ ...r, x: r.x * 10 }));
    const w = { window: "1h" } as const;
    const split = small.union(big).groupBy("user").aggregate({ head: first("x", w), tail: last("x", w), n: count(w) }).as("split");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([a, split]);
    // Three pushes at one time: small, big, small. Online they are aggregated in that order.
    for (const x of [1, 7, 2]) await store.push("a", [{ user: "u", x, ts: 1000 }]);
    const online = await store.getOnline(split, [{ user: "u" }], { at: 1000 });
    expect(online).toEqual([{ user: "u", head: 1, tail: 2, n: 3 }]);
    expect(await store.getHistorical(split, [{ user: "u", ts: 1000 }])).toEqual([{ user: "u", ts: 1000, head: 1, tail: 2, n: 3 }]);
    await store.close();
  });

  it("keeps the processing order of ties through a restart of a data directory (arrival numbers saved with the state)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "freshet-union-"));
    try {
      const schema = { user: t.string(), price: t.float(), ts: t.timestamp() };
      const web = dataset("web", schema, { timestamp: "ts", lateness: "1s" });
      const app = dataset("app", schema, { timestamp: "ts", lateness: "1s" });
      const w = { window: "1h" } as const;
      const both = web.union(app).groupBy("user").aggregate({ head: first("price", w), tail: last("price", w), money: sum("price", w) }).as("both");
      const read = async (store: FeatureStore) => ({
        online: await store.getOnline(both, [{ user: "u" }], { at: 1000 }),
        offline: (await store.getHistorical(both, [{ user: "u", ts: 1000 }])).map(({ ts: _ts, ...r }) => r),
      });
      let store = await FeatureStore.open({ dir, clock: "event" });
      await store.apply([web, app, both]);
      await store.push("app", [{ user: "u", price: 0.1, ts: 1000 }]);
      await store.push("web", [{ user: "u", price: 0.2, ts: 1000 }]);
      await store.close();
      store = await FeatureStore.open({ dir, clock: "event" });
      await store.apply([web, app, both]);
      // After the restart, web before app again: later batches must still come after the earlier ones.
      await store.push("web", [{ user: "u", price: 0.3, ts: 1000 }]);
      await store.push("app", [{ user: "u", price: 0.4, ts: 1000 }]);
      const r = await read(store);
      expect(r.online).toEqual([{ user: "u", head: 0.1, tail: 0.4, money: 0.1 + 0.2 + 0.3 + 0.4 }]);
      expect(r.offline).toEqual(r.online);
      await store.close();
      // And read back from the Parquet history alone.
      store = await FeatureStore.open({ dir, clock: "event" });
      await store.apply([web, app, both]);
      expect(await read(store)).toEqual(r);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it("three streams, nested both ways with steps between the unions: online == offline == recomputation", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          lateness: fc.tuple(grid(10), grid(10), grid(10)),
          steps: fc.array(
            fc.record({ src: fc.integer({ min: 0, max: 2 }), user: fc.constantFrom(...USERS), dt: grid(2), back: fc.oneof(fc.constant(0), grid(10)), amount: fc.integer({ min: 1, max: 9 }), flush: fc.boolean() }),
            { minLength: 1, maxLength: 40 },
          ),
        }),
        async (sc) => {
          const schema = { user: t.string(), amount: t.float(), ts: t.timestamp() };
          const names = ["s0", "s1", "s2"] as const;
          const [d0, d1, d2] = names.map((n, i) => dataset(n, schema, { timestamp: "ts", lateness: sc.lateness[i] as number }));
          if (d0 === undefined || d1 === undefined || d2 === undefined) throw new Error("three datasets");
          const w = { window: 1000 } as const;
          // (s0 ∪ s1) with amounts doubled and small ones dropped, then ∪ (s2 ∪ s0 tripled): s0 reaches the table twice.
          const left = d0.union(d1).map((r) => ({ ...r, amount: r.amount * 2 })).filter((r) => r.amount > 4);
          const right = d2.union(d0.map((r) => ({ ...r, amount: r.amount * 3 })));
          const table = left.union(right).groupBy("user").aggregate({ n: count(w), total: sum("amount", w), head: first("amount", w), tail: last("amount", w) }).as("three");
          const store = await FeatureStore.open({ clock: "event" });
          await store.apply([d0, d1, d2, table]);
          expect(store.explain(table)).toContain("union with s2 ∪ s0");
          expect(store.explain(table)).toContain("union with s1");
          let now = BASE;
          let seq = 0;
          const sent: Array<Array<{ user: string; amount: number; ts: number; seq: number }>> = [[], [], []];
          const pending: Array<Array<{ user: string; amount: number; ts: number }>> = [[], [], []];
          const flush = async () => {
            for (let i = 0; i < 3; i++) {
              if (pending[i]?.length === 0) continue;
              const rows = (pending[i] as Array<{ user: string; amount: number; ts: number }>).splice(0);
              sent[i]?.push(...rows.map((r) => ({ ...r, seq: seq++ })));
              await store.push(names[i] as string, rows);
            }
          };
          for (const st of sc.steps) {
            now += st.dt;
            pending[st.src]?.push({ user: st.user, amount: st.amount, ts: now - st.back });
            if (st.flush) await flush();
          }
          await flush();
          const acc = sent.map((rows, i) => accepted(rows, sc.lateness[i] as number));
          const tableWm = Math.min(...acc.map((rows, i) => watermarkOf(rows, sc.lateness[i] as number)));
          if (!Number.isFinite(tableWm)) {
            await store.close();
            return;
          }
          // The table's rows: per push, the branches in definition order (s0∪s1 doubled, s2, s0 tripled).
          const events = [
            ...[...(acc[0] ?? []), ...(acc[1] ?? [])].map((r) => ({ ...r, amount: r.amount * 2, branch: 0 })).filter((r) => r.amount > 4),
            ...(acc[2] ?? []).map((r) => ({ ...r, branch: 1 })),
            ...(acc[0] ?? []).map((r) => ({ ...r, amount: r.amount * 3, branch: 2 })),
          ];
          for (const at of [tableWm, tableWm + 500]) {
            const online = await store.getOnline(table, USERS.map((user) => ({ user })), { at });
            const offline = await store.getHistorical(table, USERS.map((user) => ({ user, ts: at })));
            expect(online).toEqual(offline.map(({ ts: _ts, ...r }) => r));
            expect(online).toEqual(
              USERS.map((user) => {
                const win = events.filter((e) => e.user === user && e.ts > at - 1000 && e.ts <= at).sort((x, y) => x.ts - y.ts || x.seq - y.seq || x.branch - y.branch);
                return { user, n: win.length, total: win.reduce((a, e) => a + e.amount, 0), head: win[0]?.amount ?? null, tail: win[win.length - 1]?.amount ?? null };
              }),
            );
          }
          await store.close();
        },
      ),
      { numRuns: 100, seed: 20261203 },
    );
  });

});
