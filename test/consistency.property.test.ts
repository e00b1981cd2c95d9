/**
 * The contract's consistency invariant: for the same events, the online value
 * of a feature at t equals its point-in-time value at t. Random event sets
 * (out of order within and beyond the allowed lateness, null values, ties),
 * random windows, random batch splits and reads between batches.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accepted, pushInBatches } from "./helpers/eventTime.js";
import { avg, count, dataset, FeatureStore, max, min, sum, t } from "../src/index.js";

interface Ev {
  k: string;
  ts: number;
  v: number | null;
}

const KEYS = ["a", "b", "c", "d"];
const BASE = Date.UTC(2024, 0, 1);

const scenario = fc.record({
  lateness: fc.integer({ min: 0, max: 3000 }),
  windows: fc.tuple(fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 1, max: 4000 })),
  steps: fc.array(
    fc.record({
      key: fc.constantFrom(...KEYS),
      dt: fc.integer({ min: 0, max: 700 }),
      back: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5000 })),
      v: fc.oneof(fc.constant(null), fc.integer({ min: -50, max: 50 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
    }),
    { minLength: 1, maxLength: 120 },
  ),
  splits: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }),
  readOffsets: fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 4 }),
});

function bruteForce(events: readonly Ev[], key: string, at: number, w: readonly [number, number, number]) {
  const inWin = (ev: Ev, win: number) => ev.k === key && ev.ts > at - win && ev.ts <= at;
  const e1 = events.filter((e) => inWin(e, w[0]));
  const v2 = events.filter((e) => inWin(e, w[1]) && e.v !== null).map((e) => e.v as number);
  const v3 = events.filter((e) => inWin(e, w[2]) && e.v !== null).map((e) => e.v as number);
  const v1 = e1.filter((e) => e.v !== null).map((e) => e.v as number);
  return {
    n: e1.length,
    s: v2.reduce((a, b) => a + b, 0),
    m: v3.length === 0 ? null : v3.reduce((a, b) => a + b, 0) / v3.length,
    lo: v1.length === 0 ? null : Math.min(...v1),
    hi: v3.length === 0 ? null : Math.max(...v3),
  };
}

function close(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

describe("online == offline (property)", () => {
  it("getOnline at T equals getHistorical at T, and both equal a brute-force recomputation", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const ev = dataset("ev", { k: t.string(), v: t.float().optional(), ts: t.timestamp() }, { timestamp: "ts", lateness: sc.lateness });
        const [w1, w2, w3] = sc.windows;
        const table = ev
          .groupBy("k")
          .aggregate({ n: count({ window: w1 }), s: sum("v", { window: w2 }), m: avg("v", { window: w3 }), lo: min("v", { window: w1 }), hi: max("v", { window: w3 }) })
          .as("feat");
        const store = await FeatureStore.open({ clock: "event" });
        await store.apply([ev, table]);

        let clock = BASE;
        const events: Ev[] = sc.steps.map((s) => {
          clock += s.dt;
          return { k: s.key, ts: clock - s.back, v: s.v };
        });
        // Push in batches of random sizes, reading online between batches so that
        // cursors move, rebuild and see out-of-order inserts.
        const maxPushed = await pushInBatches(store, "ev", events, sc.splits, () => store.getOnline(table, KEYS.map((k) => ({ k }))));
        const stats = store.stats().datasets["ev"];
        expect((stats?.accepted ?? 0) + (stats?.late ?? 0)).toBe(events.length);
        const late = new Set(store.deadLetters("ev").map((d) => d.row));
        expect(late.size).toBe(stats?.late);

        // Re-derive which events were accepted: the runtime's rule, event by event.
        const acc = accepted(events, sc.lateness);
        expect(acc.length).toBe(stats?.accepted);

        // Read times: past the last event, and exactly at window edges (the
        // moment an event leaves a window, and 1 ms before), which must be >= the
        // watermark for online reads to be exact.
        const watermark = Math.max(...acc.map((e) => e.ts)) - sc.lateness;
        const times = sc.readOffsets.map((off) => maxPushed + off);
        for (const e of acc.slice(-4)) {
          for (const w of sc.windows) times.push(e.ts + w, e.ts + w - 1, e.ts);
        }
        const readTimes = times.filter((x) => x >= watermark);
        // Both directions: forward reads advance cursors, backward reads rebuild them.
        for (const at of [...readTimes.sort((a, b) => a - b), ...readTimes.slice().reverse()]) {
          const online = await store.getOnline(table, KEYS.map((k) => ({ k })), { at });
          const offline = await store.getHistorical(table, KEYS.map((k) => ({ k, ts: at })));
          for (let j = 0; j < KEYS.length; j++) {
            const on = online[j];
            const off2 = offline[j];
            // Bit-for-bit equal: same features, same values.
            expect({ ...on }).toEqual({ k: KEYS[j], n: off2?.n, s: off2?.s, m: off2?.m, lo: off2?.lo, hi: off2?.hi });
            const bf = bruteForce(acc, KEYS[j] as string, at, sc.windows);
            expect(on?.n).toBe(bf.n);
            expect(on?.lo).toBe(bf.lo);
            expect(on?.hi).toBe(bf.hi);
            expect(close(on?.s ?? null, bf.s)).toBe(true);
            expect(close(on?.m ?? null, bf.m)).toBe(true);
          }
        }
        await store.close();
      }),
      { numRuns: 300, seed: 20261122 },
    );
  });
});
