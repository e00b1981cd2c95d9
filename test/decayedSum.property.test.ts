/**
 * decayedSum read from its decayed prefix (src/engine/decayPrefix.ts): a
 * binary search and a few operations per read. Checked against a direct
 * computation of the definition, Σ v·2^(−(t − tᵢ)/h) over the window's terms
 * within 64 half-lives, summed exactly (Shewchuk's partials):
 *   - within 1e-12 of Σ|terms| on random events: out of order, nulls, values
 *     of mixed magnitudes and spikes (so the read falls back to summing the
 *     window when the prefix is ill-conditioned), gaps of many half-lives,
 *     sliding, hopping and forever windows, reads in and out of time order;
 *   - the same after the state goes through the codec, also from a state
 *     written before the prefix was kept (rebuilt on decode).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AggregateOperator } from "../src/engine/aggregateOperator.js";
import { decodeKeyState, encodeKeyState, type EncodedKeyState } from "../src/engine/stateCodec.js";
import type { FeatureColumn } from "../src/engine/windowReaders.js";
import type { AggregationDef } from "../src/plan/nodes.js";

const BASE = Date.UTC(2025, 2, 1);

type Ev = { k: string; ts: number; v: number | null };

/** The exactly rounded sum of xs (Shewchuk's non-overlapping partials, as Python's math.fsum). */
function exactSum(xs: readonly number[]): number {
  const partials: number[] = [];
  for (let x of xs) {
    let i = 0;
    for (let y of partials) {
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[i++] = lo;
      x = hi;
    }
    partials.length = i;
    partials.push(x);
  }
  return partials.reduce((a, b) => a + b, 0);
}

/** The definition: the window's terms within 64 half-lives, their exact sum and Σ|term|. */
function direct(events: readonly Ev[], key: string, from: number, at: number, h: number): { sum: number; scale: number } {
  const terms = events
    .filter((e) => e.k === key && e.v !== null && e.ts >= from && e.ts <= at && e.ts >= at - 64 * h)
    .map((e) => (e.v as number) * Math.pow(2, -(at - e.ts) / h));
  return { sum: exactSum(terms), scale: terms.reduce((a, x) => a + Math.abs(x), 0) };
}

const value = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 4, arbitrary: fc.double({ min: -1e3, max: 1e3, noNaN: true }) },
  { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(1e15, -1e15, 1e-9, 1e250, -1e250) },
);

const scenario = fc.record({
  halfLife: fc.integer({ min: 1, max: 2000 }),
  window: fc.oneof(
    fc.record({ kind: fc.constant("sliding" as const), size: fc.integer({ min: 1, max: 200_000 }) }),
    fc.record({ kind: fc.constant("hopping" as const), hop: fc.integer({ min: 1, max: 20_000 }), hops: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant("forever" as const) }),
  ),
  steps: fc.array(
    fc.record({
      k: fc.constantFrom("a", "b"),
      // Mostly small steps, sometimes a gap of many half-lives.
      dt: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 500 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 400_000 }) }),
      back: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3000 })),
      v: value,
    }),
    { minLength: 1, maxLength: 150 },
  ),
  reads: fc.array(fc.integer({ min: -5000, max: 100_000 }), { minLength: 1, maxLength: 8 }),
  splits: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 5 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

function defOf(sc: Scenario): AggregationDef {
  const w = sc.window;
  if (w.kind === "sliding") return { kind: "decayedSum", field: "v", window: w.size, halfLife: sc.halfLife };
  if (w.kind === "hopping") return { kind: "decayedSum", field: "v", window: w.hop * w.hops, hop: w.hop, halfLife: sc.halfLife };
  return { kind: "decayedSum", field: "v", window: Number.POSITIVE_INFINITY, halfLife: sc.halfLife };
}

/** The first time inside the window read at `at`. */
function windowStart(def: AggregationDef, at: number): number {
  if (def.window === Number.POSITIVE_INFINITY) return Number.NEGATIVE_INFINITY;
  if (def.hop !== undefined) return Math.floor(at / def.hop) * def.hop + def.hop - def.window;
  return at - def.window + 1;
}

function readOne(op: AggregateOperator, key: string, at: number): number {
  const out: FeatureColumn[] = [new Float64Array(1)];
  op.read([key], at, out, 0);
  return (out[0] as Float64Array)[0] as number;
}

describe("decayedSum from its decayed prefix", () => {
  it("is within 1e-12 of Σ|terms| of the definition, before and after the codec (property)", () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        const def = defOf(sc);
        const spec = { keys: ["k"], aggregations: { ds: def } };
        const op = new AggregateOperator("decayed", spec);
        let clock = BASE;
        const events: Ev[] = sc.steps.map((s) => {
          clock += s.dt;
          return { k: s.k, ts: clock - s.back, v: s.v };
        });
        // Batches of random sizes; no watermark, so nothing is evicted and every time can be read.
        let i = 0;
        let n = 0;
        while (i < events.length) {
          const batch = events.slice(i, i + (sc.splits[n++ % sc.splits.length] as number));
          i += batch.length;
          op.process(batch, Float64Array.from(batch.map((e) => e.ts)), false);
        }
        const maxTs = Math.max(...events.map((e) => e.ts));
        const times = [...sc.reads.map((r) => maxTs + r), ...events.slice(-5).map((e) => e.ts)];
        // The same key state after the codec, and as written before decayed prefixes were kept.
        const restored = new AggregateOperator("decayed", spec);
        const legacy = new AggregateOperator("decayed", spec);
        for (const st of op.states.values()) {
          const e = encodeKeyState(st);
          restored.adopt(decodeKeyState(e, restored.layout));
          const { decays: _decays, ...older } = e;
          legacy.adopt(decodeKeyState(older as EncodedKeyState, legacy.layout));
        }
        for (const at of [...times, ...times.slice().reverse()]) {
          for (const key of ["a", "b"]) {
            const want = direct(events, key, windowStart(def, at), at, sc.halfLife);
            const tol = 1e-12 * want.scale + 1e-300;
            const got = readOne(op, key, at);
            expect(Math.abs(got - want.sum)).toBeLessThanOrEqual(tol);
            expect(readOne(restored, key, at)).toBe(got);
            expect(Math.abs(readOne(legacy, key, at) - want.sum)).toBeLessThanOrEqual(tol);
          }
        }
      }),
      { numRuns: 300, seed: 20261202 },
    );
  });

  it("reads known values: halving per half-life, 0 past 64 half-lives, a spike before a tiny window", () => {
    const op = new AggregateOperator("decayed", { keys: ["k"], aggregations: { ds: { kind: "decayedSum", field: "v", window: 10_000, halfLife: 1000 } } });
    const at = (xs: Array<[number, number | null]>) => op.process(xs.map(([ts, v]) => ({ k: "a", v })), Float64Array.from(xs.map(([ts]) => BASE + ts)), false);
    at([[0, 8], [1000, null], [2000, 4]]);
    expect(readOne(op, "a", BASE + 2000)).toBe(8 / 4 + 4);
    expect(readOne(op, "a", BASE + 3000)).toBe(8 / 8 + 2);
    expect(readOne(op, "a", BASE + 12_000)).toBe(0); // both left the 10 s window
    // A spike of 1e300 then values of 1e-3: the window after the spike is read directly, still exact.
    at([[20_000, 1e300], [40_000, 1e-3], [40_500, 1e-3]]);
    const want = 1e-3 * Math.pow(2, -0.5) + 1e-3;
    expect(Math.abs(readOne(op, "a", BASE + 40_500) - want)).toBeLessThanOrEqual(1e-15 * want);
    // 400 values near 1e3 just before a 1 ms window holding one value 1.7: the prefix holds
    // ~2.6e5 times the window's mass (under the 2^20 that sends a read to the direct sum), and
    // the compensation keeps the difference exact (an uncompensated prefix is off by ~1e-11).
    const near = new AggregateOperator("decayed", { keys: ["k"], aggregations: { ds: { kind: "decayedSum", field: "v", window: 1, halfLife: 3_600_000 } } });
    const xs = Array.from({ length: 400 }, (_, i) => 999.123456789 + 0.377 * i);
    near.process(xs.map((v) => ({ k: "a", v })), Float64Array.from(xs.map((_, i) => BASE + i)), false);
    near.process([{ k: "a", v: 1.7 }], Float64Array.of(BASE + 400), false);
    expect(Math.abs(readOne(near, "a", BASE + 400) - 1.7)).toBeLessThanOrEqual(1e-12 * 1.7);
    // 64 half-lives and more: nothing left in a forever window either.
    const ever = new AggregateOperator("decayed", { keys: ["k"], aggregations: { ds: { kind: "decayedSum", field: "v", window: Number.POSITIVE_INFINITY, halfLife: 10 } } });
    ever.process([{ k: "a", v: 1 }], Float64Array.of(BASE), false);
    expect(readOne(ever, "a", BASE + 640)).toBe(Math.pow(2, -64));
    expect(readOne(ever, "a", BASE + 641)).toBe(0);
  });
});
