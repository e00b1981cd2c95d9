/**
 * Window kinds under the consistency invariant: tumbling, hopping and forever
 * windows (beside a sliding one), random events out of order within and
 * beyond the lateness, random batches; online reads at T equal point-in-time
 * reads at T, and both equal a recomputation from each window's definition:
 *   sliding(w) at t:       (t − w, t]
 *   tumbling(s) at t:      [⌊t/s⌋·s, t]
 *   hopping(s, h) at t:    [⌊t/h⌋·h + h − s, t]
 *   forever at t:          (−∞, t]
 *   session(g) at t:       the run of events each ≤ g after the one before,
 *                          ending with the latest event ≤ t; empty once t is
 *                          more than g after that event
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accepted, watermarkOf, pushInBatches } from "./helpers/eventTime.js";
import { avg, count, dataset, distinctCount, FeatureStore, forever, hopping, lastK, max, session, sum, t, tumbling } from "../src/index.js";

interface Ev {
  k: string;
  ts: number;
  v: number | null;
}

const KEYS = ["a", "b"];
const BASE = Date.UTC(2024, 0, 1);

const scenario = fc.record({
  lateness: fc.integer({ min: 0, max: 3000 }),
  sliding: fc.integer({ min: 1, max: 4000 }),
  tumble: fc.integer({ min: 1, max: 3000 }),
  hop: fc.integer({ min: 1, max: 1000 }),
  hops: fc.integer({ min: 1, max: 5 }),
  gap: fc.integer({ min: 1, max: 1500 }),
  steps: fc.array(
    fc.record({
      key: fc.constantFrom(...KEYS),
      dt: fc.integer({ min: 0, max: 700 }),
      back: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5000 })),
      v: fc.oneof(fc.constant(null), fc.integer({ min: -50, max: 50 })),
    }),
    { minLength: 1, maxLength: 100 },
  ),
  splits: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }),
  readOffsets: fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 4 }),
});

describe("window kinds: online == offline == definition (property)", () => {
  it("holds over random event sets", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const ev = dataset("ev", { k: t.string(), v: t.float().optional(), ts: t.timestamp() }, { timestamp: "ts", lateness: sc.lateness });
        const size = sc.hop * sc.hops;
        const table = ev
          .groupBy("k")
          .aggregate({
            n_slide: count({ window: sc.sliding }),
            n_tumble: count({ window: tumbling(sc.tumble) }),
            s_tumble: sum("v", { window: tumbling(sc.tumble) }),
            m_hop: avg("v", { window: hopping(size, sc.hop) }),
            hi_hop: max("v", { window: hopping(size, sc.hop) }),
            last_hop: lastK("v", { window: hopping(size, sc.hop), k: 2 }),
            n_ever: count({ window: forever() }),
            s_ever: sum("v", { window: forever() }),
            d_ever: distinctCount("v", { window: forever() }),
            n_sess: count({ window: session(sc.gap) }),
            s_sess: sum("v", { window: session(sc.gap) }),
            hi_sess: max("v", { window: session(sc.gap) }),
            last_sess: lastK("v", { window: session(sc.gap), k: 2 }),
          })
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
        const acc = accepted(events, sc.lateness);
        const sorted = acc.map((e, n) => ({ e, n })).sort((a, b) => a.e.ts - b.e.ts || a.n - b.n).map((x) => x.e);
        const watermark = watermarkOf(acc, sc.lateness);
        const times = sc.readOffsets.map((off) => maxPushed + off);
        for (const e of acc.slice(-4)) {
          for (const w of [sc.sliding, sc.tumble, sc.hop, size, sc.gap, sc.gap + 1]) times.push(e.ts + w, e.ts + w - 1, e.ts);
          times.push(Math.floor(e.ts / sc.tumble) * sc.tumble + sc.tumble, Math.floor(e.ts / sc.hop) * sc.hop + sc.hop - 1);
        }
        const readTimes = times.filter((x) => x >= watermark);
        for (const at of [...readTimes.sort((a, b) => a - b), ...readTimes.slice().reverse()]) {
          const online = await store.getOnline(table, KEYS.map((k) => ({ k })), { at });
          const offline = await store.getHistorical(table, KEYS.map((k) => ({ k, ts: at })));
          for (let j = 0; j < KEYS.length; j++) {
            const key = KEYS[j] as string;
            const { ts: _ts, ...off } = offline[j] as Record<string, unknown>;
            expect(online[j]).toEqual(off);
            const from = (start: number) => sorted.filter((e) => e.k === key && e.ts >= start && e.ts <= at);
            const vals = (es: Ev[]) => es.filter((e) => e.v !== null).map((e) => e.v as number);
            const slide = sorted.filter((e) => e.k === key && e.ts > at - sc.sliding && e.ts <= at);
            const tumble = from(Math.floor(at / sc.tumble) * sc.tumble);
            const hop = vals(from(Math.floor(at / sc.hop) * sc.hop + sc.hop - size));
            const ever = from(Number.NEGATIVE_INFINITY);
            const sumOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
            const sess: Ev[] = [];
            const mine = ever;
            if (mine.length > 0 && at - (mine[mine.length - 1] as Ev).ts <= sc.gap) {
              let p = mine.length - 1;
              while (p > 0 && (mine[p] as Ev).ts - (mine[p - 1] as Ev).ts <= sc.gap) p--;
              sess.push(...mine.slice(p));
            }
            const sessVals = vals(sess);
            expect(online[j]).toEqual({
              k: key,
              n_slide: slide.length,
              n_tumble: tumble.length,
              s_tumble: sumOf(vals(tumble)),
              m_hop: hop.length === 0 ? null : expect.closeTo(sumOf(hop) / hop.length, 9),
              hi_hop: hop.length === 0 ? null : Math.max(...hop),
              last_hop: hop.slice(-2).reverse(),
              n_ever: ever.length,
              s_ever: sumOf(vals(ever)),
              d_ever: new Set(vals(ever)).size,
              n_sess: sess.length,
              s_sess: sumOf(sessVals),
              hi_sess: sessVals.length === 0 ? null : Math.max(...sessVals),
              last_sess: sessVals.slice(-2).reverse(),
            });
          }
        }
        await store.close();
      }),
      { numRuns: 200, seed: 20261124 },
    );
  });
});
