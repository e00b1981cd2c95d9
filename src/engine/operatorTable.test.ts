import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";
import { t } from "../core/schema.js";
import { count } from "../dsl/aggregations.js";
import { dataset } from "../dsl/dataset.js";
import { Operator } from "../dsl/operator.js";
import { FeatureStore } from "../featureStore/featureStore.js";

const T = Date.UTC(2026, 0, 1);
const events = dataset("events", { user: t.string(), n: t.int(), at: t.timestamp() }, { timestamp: "at" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("custom operators", () => {
  it("run per record, async, with a concurrency limit, keeping each key's order", async () => {
    const calls: Record<string, number[]> = {};
    let inFlight = 0;
    let maxInFlight = 0;
    const echo = events
      .groupBy("user")
      .apply(
        async (r) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          (calls[r.user] ??= []).push(r.n);
          await sleep((r.n * 7) % 5); // later records of a key may finish sooner if run out of order
          inFlight--;
          return r.n % 4 === 0 ? null : { last_n: r.n, doubled: [r.n * 2] }.doubled.map((d) => ({ last_n: r.n, doubled: d }));
        },
        { output: { last_n: t.int(), doubled: t.int() }, concurrency: 3 },
      )
      .as("echo");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([events, echo]);
    const rows = Array.from({ length: 60 }, (_, i) => ({ user: `u${i % 5}`, n: i, at: T + i }));
    await store.push("events", rows);
    expect(maxInFlight).toBe(3);
    for (let u = 0; u < 5; u++) expect(calls[`u${u}`]).toEqual(rows.filter((r) => r.user === `u${u}`).map((r) => r.n));
    const online = await store.getOnline(echo, [{ user: "u1" }, { user: "u0" }, { user: "zed" }]);
    expectTypeOf(online[0]).toEqualTypeOf<({ user: string } & { last_n: number | null; doubled: number | null }) | undefined>();
    // u0's last record (n = 55) returned rows; u1's last is 56, a multiple of 4 (no output), so 51 stands.
    expect(online).toEqual([
      { user: "u1", last_n: 51, doubled: 102 },
      { user: "u0", last_n: 55, doubled: 110 },
      { user: "zed", last_n: null, doubled: null },
    ]);
    // As of a time: the latest output at or before it.
    expect(await store.getHistorical(echo, [{ user: "u1", ts: T + 21 }, { user: "u1", ts: T }])).toEqual([
      { user: "u1", ts: T + 21, last_n: 21, doubled: 42 },
      { user: "u1", ts: T, last_n: null, doubled: null },
    ]);
    expect(await store.pointQuery(echo, "u1")).toEqual(online[0]);
    expect((await store.bulkQuery(echo)).map((r) => r.user).sort()).toEqual(["u0", "u1", "u2", "u3", "u4"]);
    expect(store.explain(echo)).toContain("operator by [user] per record");
    await store.close();
  });

  it("count windows: the last `size` records every `slide` records, per key", async () => {
    class Span extends Operator<Array<{ user: string; n: number }>, { first: number; last: number; size: number }> {
      onRecord(w: Array<{ user: string; n: number }>) {
        return { first: w[0]?.n ?? -1, last: w[w.length - 1]?.n ?? -1, size: w.length };
      }
    }
    const span = events.groupBy("user").window({ size: 4, slide: 3 }).apply(Span, { output: { first: t.int(), last: t.int(), size: t.int() } }).as("span");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([events, span]);
    const seen: number[][] = [];
    // Batches split windows: the window state carries over between pushes.
    for (let i = 0; i < 12; i += 5) await store.push("events", Array.from({ length: Math.min(5, 12 - i) }, (_, j) => ({ user: "a", n: i + j, at: T + i + j })));
    for (const at of [T + 3, T + 6, T + 9, T + 11]) {
      const [r] = await store.getHistorical(span, [{ user: "a", ts: at }]);
      seen.push([r?.first ?? -1, r?.last ?? -1, r?.size ?? -1]);
    }
    // Fires at records 4, 7, 10 (n = 3, 6, 9): windows [0..3], [3..6], [6..9].
    expect(seen).toEqual([[0, 3, 4], [3, 6, 4], [6, 9, 4], [6, 9, 4]]);
    expect(() => events.groupBy("user").window({ size: 0 })).toThrow(/"size" must be a whole number >= 1/);
    await store.close();
  });

  it("a failing operator rejects the whole batch: no table, counter or history changes", async () => {
    let failOn = 7;
    const picky = events.groupBy("user").apply((r) => {
      if (r.n === failOn) throw new Error(`cannot take ${r.n}`);
      return { n: r.n };
    }, { output: { n: t.int() } }).as("picky");
    const counts = events.groupBy("user").aggregate({ c: count({ window: "1h" }) }).as("counts");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([events, picky, counts]);
    await store.push("events", [{ user: "a", n: 1, at: T }]);
    await expect(store.push("events", [{ user: "a", n: 2, at: T + 1 }, { user: "b", n: 7, at: T + 2 }])).rejects.toThrow(/cannot take 7/);
    expect(await store.getOnline(picky, [{ user: "a" }, { user: "b" }])).toEqual([{ user: "a", n: 1 }, { user: "b", n: null }]);
    expect(await store.getOnline(counts, [{ user: "a" }])).toEqual([{ user: "a", c: 1 }]);
    expect(store.stats().datasets["events"]?.accepted).toBe(1);
    failOn = -1;
    await store.push("events", [{ user: "a", n: 2, at: T + 1 }, { user: "b", n: 7, at: T + 2 }]);
    expect(await store.getOnline(picky, [{ user: "a" }, { user: "b" }])).toEqual([{ user: "a", n: 2 }, { user: "b", n: 7 }]);
    const bad = events.groupBy("user").apply(() => ({ n: "seven" }) as never, { output: { n: t.int() } }).as("bad");
    // Applied to a source with history, it fails on that history: not applied at all.
    await expect(store.apply([bad])).rejects.toThrow(/operator table "bad", output for key a: int field "n" does not fit: "seven"/);
    expect(store.list().tables).toEqual(["counts", "picky"]);
    await store.push("events", [{ user: "c", n: 1, at: T + 3 }]);
    const fresh = await FeatureStore.open();
    await fresh.apply([events, bad]);
    await expect(fresh.push("events", [{ user: "c", n: 1, at: T + 3 }])).rejects.toThrow(/operator table "bad", output for key c: int field "n" does not fit/);
    await fresh.close();
    await store.close();
  });

  it("replays offline and rebuilds from history after a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "freshet-operator-"));
    try {
      const running = events.groupBy("user").window({ size: 3, slide: 1 }).apply((w) => ({ total: w.reduce((a, r) => a + r.n, 0) }), { output: { total: t.int() } }).as("running");
      const a = await FeatureStore.open({ dir, clock: "event" });
      await a.apply([events, running]);
      await a.materializeOffline({ events: Array.from({ length: 10 }, (_, i) => ({ user: "a", n: i, at: T + i })) });
      await a.push("events", [{ user: "a", n: 100, at: T + 20 }]);
      const before = await a.getOnline(running, [{ user: "a" }]);
      expect(before).toEqual([{ user: "a", total: 8 + 9 + 100 }]);
      await a.close();
      const b = await FeatureStore.open({ dir, clock: "event" });
      await b.apply([events, running]);
      expect(await b.getOnline(running, [{ user: "a" }])).toEqual(before);
      expect(await b.getHistorical(running, [{ user: "a", ts: T + 5 }])).toEqual([{ user: "a", ts: T + 5, total: 3 + 4 + 5 }]);
      await b.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
