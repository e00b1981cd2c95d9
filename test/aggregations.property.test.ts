/**
 * The rich aggregations (variance, stddev, first, last, firstK, lastK,
 * distinctCount, approxDistinct, approxQuantile, topK, decayedSum) under the
 * consistency invariant: random events (out of order within and beyond the
 * lateness, nulls, ties), random batch splits and reads between batches;
 * online reads at T equal point-in-time reads at T exactly, and both equal a
 * recomputation from the accepted events (within the stated error for the
 * sketches and the float formulas).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accepted, watermarkOf, pushInBatches } from "./helpers/eventTime.js";
import { HyperLogLog } from "../src/engine/algebras/hyperLogLog.js";
import {
  approxDistinct,
  approxQuantile,
  dataset,
  decayedSum,
  distinctCount,
  FeatureStore,
  first,
  firstK,
  last,
  lastK,
  stddev,
  t,
  topK,
  variance,
} from "../src/index.js";
import { compareValues } from "../src/engine/algebras/valueCounts.js";

interface Ev {
  k: string;
  ts: number;
  v: number | null;
  s: string | null;
}

const KEYS = ["a", "b", "c"];
const BASE = Date.UTC(2024, 0, 1);
const HALF_LIFE = 500;
const ACCURACY = 0.02;

const scenario = fc.record({
  lateness: fc.integer({ min: 0, max: 3000 }),
  windows: fc.tuple(fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 1, max: 4000 })),
  steps: fc.array(
    fc.record({
      key: fc.constantFrom(...KEYS),
      dt: fc.integer({ min: 0, max: 700 }),
      back: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5000 })),
      v: fc.oneof(fc.constant(null), fc.integer({ min: -50, max: 50 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
      s: fc.oneof(fc.constant(null), fc.constantFrom("x", "y", "z", "w", "")),
    }),
    { minLength: 1, maxLength: 100 },
  ),
  splits: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }),
  readOffsets: fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 4 }),
});

/** Every feature recomputed from the accepted events (in event-time order, ties in arrival order). */
function reference(sorted: readonly Ev[], key: string, at: number, w: readonly [number, number, number]) {
  const win = (width: number) => sorted.filter((e) => e.k === key && e.ts > at - width && e.ts <= at);
  const nums = (width: number) => win(width).filter((e) => e.v !== null).map((e) => e.v as number);
  const strs = (width: number) => win(width).filter((e) => e.s !== null).map((e) => e.s as string);
  const moments = (xs: number[]) => {
    if (xs.length === 0) return { variance: null, meanSquare: 0 };
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    return { variance: xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length, meanSquare: xs.reduce((a, b) => a + b * b, 0) / xs.length };
  };
  const counts = new Map<string, number>();
  for (const s of strs(w[2])) counts.set(s, (counts.get(s) ?? 0) + 1);
  const top = [...counts].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || compareValues(a.value, b.value));
  const hll = new HyperLogLog(4);
  for (const x of nums(w[2])) hll.add(x);
  const q = nums(w[0]).sort((a, b) => a - b);
  const decayTerms = win(w[1])
    .filter((e) => e.v !== null && e.ts >= at - 64 * HALF_LIFE)
    .map((e) => (e.v as number) * Math.pow(2, -(at - e.ts) / HALF_LIFE));
  return {
    var: moments(nums(w[0])),
    sd: moments(nums(w[1])),
    fst: strs(w[0])[0] ?? null,
    lst: nums(w[2]).at(-1) ?? null,
    fk: nums(w[1]).slice(0, 3),
    lk: strs(w[2]).slice(-2).reverse(),
    dc: new Set(strs(w[1])).size,
    ad: hll.estimate(),
    med: q.length === 0 ? null : (q[Math.max(0, Math.ceil(0.5 * q.length) - 1)] as number),
    tk: top.slice(0, 2),
    ds: decayTerms,
  };
}

const within = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol;

describe("rich aggregations: online == offline == recomputation (property)", () => {
  it("holds over random event sets", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const ev = dataset("ev", { k: t.string(), v: t.float().optional(), s: t.string().optional(), ts: t.timestamp() }, { timestamp: "ts", lateness: sc.lateness });
        const [w1, w2, w3] = sc.windows;
        const table = ev
          .groupBy("k")
          .aggregate({
            var: variance("v", { window: w1 }),
            sd: stddev("v", { window: w2 }),
            fst: first("s", { window: w1 }),
            lst: last("v", { window: w3 }),
            fk: firstK("v", { window: w2, k: 3 }),
            lk: lastK("s", { window: w3, k: 2 }),
            dc: distinctCount("s", { window: w2 }),
            ad: approxDistinct("v", { window: w3, precision: 4 }),
            med: approxQuantile("v", { window: w1, q: 0.5, accuracy: ACCURACY }),
            tk: topK("s", { window: w3, k: 2 }),
            ds: decayedSum("v", { window: w2, halfLife: HALF_LIFE }),
          })
          .as("feat");
        const store = await FeatureStore.open({ clock: "event" });
        await store.apply([ev, table]);

        let clock = BASE;
        const events: Ev[] = sc.steps.map((s) => {
          clock += s.dt;
          return { k: s.key, ts: clock - s.back, v: s.v, s: s.s };
        });
        // Push in batches of random sizes, reading online between batches so that
        // cursors move, rebuild and see out-of-order inserts.
        const maxPushed = await pushInBatches(store, "ev", events, sc.splits, () => store.getOnline(table, KEYS.map((k) => ({ k }))));
        const acc = accepted(events, sc.lateness);
        const sorted = acc.map((e, n) => ({ e, n })).sort((a, b) => a.e.ts - b.e.ts || a.n - b.n).map((x) => x.e);
        const watermark = watermarkOf(acc, sc.lateness);
        const times = sc.readOffsets.map((off) => maxPushed + off);
        for (const e of acc.slice(-4)) for (const w of sc.windows) times.push(e.ts + w, e.ts + w - 1, e.ts);
        const readTimes = times.filter((x) => x >= watermark);
        for (const at of [...readTimes.sort((a, b) => a - b), ...readTimes.slice().reverse()]) {
          const online = await store.getOnline(table, KEYS.map((k) => ({ k })), { at });
          const offline = await store.getHistorical(table, KEYS.map((k) => ({ k, ts: at })));
          for (let j = 0; j < KEYS.length; j++) {
            const on = online[j] as Record<string, unknown>;
            const { ts: _ts, ...off } = offline[j] as Record<string, unknown>;
            expect(on).toEqual(off);
            const ref = reference(sorted, KEYS[j] as string, at, sc.windows);
            expect(on["fst"]).toBe(ref.fst);
            expect(on["lst"]).toBe(ref.lst);
            expect(on["fk"]).toEqual(ref.fk);
            expect(on["lk"]).toEqual(ref.lk);
            expect(on["dc"]).toBe(ref.dc);
            expect(on["tk"]).toEqual(ref.tk);
            expect(on["ad"]).toBe(ref.ad);
            // Variance from compensated prefix sums: exact to ~1e-12 of the window's mean square.
            for (const [name, m] of [["var", ref.var], ["sd", ref.sd]] as const) {
              const got = on[name];
              if (m.variance === null) expect(got).toBeNull();
              else if (name === "var") expect(within(got as number, m.variance, 1e-9 * Math.max(1, m.meanSquare))).toBe(true);
              else expect(within(got as number, Math.sqrt(m.variance), Math.sqrt(1e-9 * Math.max(1, m.meanSquare)))).toBe(true);
            }
            if (ref.med === null) expect(on["med"]).toBeNull();
            else expect(within(on["med"] as number, ref.med, ACCURACY * Math.abs(ref.med) + 1e-9)).toBe(true);
            const dsWant = ref.ds.reduce((a, b) => a + b, 0);
            const dsScale = ref.ds.reduce((a, b) => a + Math.abs(b), 0);
            expect(within(on["ds"] as number, dsWant, 1e-12 * Math.max(1, dsScale))).toBe(true);
          }
        }
        await store.close();
      }),
      { numRuns: 150, seed: 20261123 },
    );
  });
});
