import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { t } from "../core/schema.js";
import { avg, count, max, stddev, sum } from "../dsl/aggregations.js";
import { dataset } from "../dsl/dataset.js";
import { KeyState } from "./keyState.js";
import { layoutOf } from "./layout.js";

const ev = dataset("ev", { k: t.string(), a: t.float().optional(), b: t.float(), ts: t.timestamp() }, { timestamp: "ts" });

/** The retained events and prefix slots of a state, as plain numbers (Object.is-comparable). */
function retained(st: KeyState): unknown {
  const span = (a: Float64Array, extra: number): number[] => Array.from(a.subarray(st.first - st.off, st.end - st.off + extra));
  return {
    first: st.first,
    end: st.end,
    latest: st.latest,
    ts: span(st.ts, 0),
    vals: st.vals.map((v) => span(v, 0)),
    psum: st.psum.map((v) => (v.length === 0 ? [] : span(v, 1))),
    pcomp: st.pcomp.map((v) => (v.length === 0 ? [] : span(v, 1))),
    pnn: st.pnn.map((v) => (v.length === 0 ? [] : span(v, 1))),
  };
}

// Several aggregated fields (a, b, b squared), and one (a) for appendRun's single-field loop.
const tables = {
  "several fields": ev
    .groupBy("k")
    .aggregate({ n: count({ window: 50 }), s: sum("a", { window: 80 }), m: avg("b", { window: 50 }), hi: max("a", { window: 80 }), sd: stddev("b", { window: 80 }) })
    .as("t"),
  "one field": ev
    .groupBy("k")
    .aggregate({ n: count({ window: 50 }), s: sum("a", { window: 80 }), m: avg("a", { window: 50 }), hi: max("a", { window: 80 }) })
    .as("t1"),
};

describe("KeyState.appendRun", () => {
  it.each(Object.entries(tables))("leaves the state evict-then-append per event leaves, in and out of order, across evictions and growth (%s)", (_name, table) => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.oneof(fc.constant(Number.NaN), fc.constant(-0), fc.double({ min: -1e3, max: 1e3, noNaN: true })), fc.integer({ min: -9, max: 9 })), { maxLength: 40 }),
        // Batches: how many events each takes, and its eviction horizon.
        fc.array(fc.tuple(fc.integer({ min: 1, max: 15 }), fc.integer({ min: -1, max: 300 })), { minLength: 1, maxLength: 6 }),
        (events, batches) => {
          const layout = layoutOf(table.root);
          const oneByOne = new KeyState("x", ["x"], 0, layout);
          const byRun = new KeyState("x", ["x"], 0, layout);
          const nf = layout.fields.length;
          const value = (e: (typeof events)[number], f: number): number => {
            const v = layout.fields[f] === "a" ? e[1] : e[2];
            return layout.squares[f] === true ? v * v : v;
          };
          let at = 0;
          for (const [size, horizon] of batches) {
            const batch = events.slice(at, at + size);
            at += size;
            for (const e of batch) {
              oneByOne.evict(horizon);
              oneByOne.append(e[0], Array.from({ length: nf }, (_, f) => value(e, f)));
            }
            if (batch.length === 0) continue;
            // The batch's events as columns, between two slots of other keys' events the run leaves alone.
            const other = [-1, 999, 999] as const;
            const slots = [other, other, ...batch, other];
            const times = Float64Array.from(slots, (e) => e[0]);
            const cols = Array.from({ length: nf }, (_, f) => Float64Array.from(slots, (e) => value(e as (typeof events)[number], f)));
            byRun.appendRun(times, cols, 2, 2 + batch.length, horizon, new Float64Array(nf));
          }
          const a = retained(byRun);
          const b = retained(oneByOne);
          // Object.is on every slot: -0 and 0 differ, NaN equals NaN.
          expect(JSON.stringify(a, (_, v: unknown) => (typeof v === "number" ? (Object.is(v, -0) ? "-0" : String(v)) : v))).toBe(
            JSON.stringify(b, (_, v: unknown) => (typeof v === "number" ? (Object.is(v, -0) ? "-0" : String(v)) : v)),
          );
        },
      ),
      { numRuns: 400, seed: 17 },
    );
  });
});
