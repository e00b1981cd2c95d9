import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AggKind } from "../../plan/nodes.js";
import { algebraOf } from "./algebra.js";
import { DDSketch } from "./ddSketch.js";
import { HyperLogLog, SlidingHll } from "./hyperLogLog.js";
import { compareValues } from "./valueCounts.js";

const KINDS: AggKind[] = ["count", "sum", "avg", "min", "max", "variance", "stddev", "first", "last", "firstK", "lastK", "distinctCount", "approxDistinct", "approxQuantile", "topK", "decayedSum"];
const params = { k: 3, q: 0.75, accuracy: 0.01, precision: 8, halfLife: 1000 };

/** Values with distinct, increasing times. */
const timedValues = fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 60 }).map((vs) => vs.map((v, i) => ({ v, t: 1000 + i * 37 })));

function fold(kind: AggKind, xs: ReadonlyArray<{ v: number; t: number }>): unknown {
  const a = algebraOf({ kind, ...params });
  let s = a.init();
  for (const x of xs) s = a.add(s, x.v, x.t);
  return s;
}

function same(a: unknown, b: unknown): void {
  if (typeof a === "number" && typeof b === "number") expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(a), Math.abs(b)));
  else expect(a).toEqual(b);
}

describe("aggregation algebras", () => {
  it.each(KINDS)("%s: merging partials of a split equals folding the whole", (kind) => {
    fc.assert(
      fc.property(timedValues, fc.nat(), (xs, cut) => {
        const at = 1000 + xs.length * 37;
        const i = xs.length === 0 ? 0 : cut % (xs.length + 1);
        const a = algebraOf({ kind, ...params });
        const merged = a.merge(fold(kind, xs.slice(0, i)), fold(kind, xs.slice(i)));
        same(a.finalize(merged, at), a.finalize(fold(kind, xs), at));
      }),
      { numRuns: 200 },
    );
  });

  it.each(KINDS.filter((k) => algebraOf({ kind: k, ...params }).remove !== undefined))("%s: remove undoes add", (kind) => {
    fc.assert(
      fc.property(timedValues, timedValues, (keep, drop) => {
        const a = algebraOf({ kind, ...params });
        const at = 1000 + 80 * 37;
        const shifted = drop.map((x) => ({ v: x.v, t: x.t + 60 * 37 }));
        let s = fold(kind, [...keep, ...shifted]);
        for (const x of shifted) s = (a.remove as NonNullable<typeof a.remove>)(s, x.v, x.t);
        same(a.finalize(s, at), a.finalize(fold(kind, keep), at));
      }),
      { numRuns: 200 },
    );
  });

  it.each(["first", "last", "firstK", "lastK"] as const)("%s keeps at most k values, and ties by arrival, however the events are split", (kind) => {
    // Times with many ties, arriving out of order; the definition is the stable sort by time.
    const events = fc.array(fc.record({ t: fc.integer({ min: 0, max: 6 }), v: fc.integer() }), { maxLength: 40 });
    fc.assert(
      fc.property(events, fc.nat(), (xs, cut) => {
        const a = algebraOf({ kind, ...params });
        const sorted = xs.map((x, n) => ({ ...x, n })).sort((p, q) => p.t - q.t || p.n - q.n);
        const vs = sorted.map((x) => x.v);
        const want = { first: vs[0] ?? null, last: vs.at(-1) ?? null, firstK: vs.slice(0, 3), lastK: vs.slice(-3).reverse() }[kind];
        let whole = a.init();
        for (const x of xs) whole = a.add(whole, x.v, x.t);
        expect(a.finalize(whole, 0)).toEqual(want);
        expect((whole as { items: unknown[] }).items.length).toBeLessThanOrEqual(kind === "first" || kind === "last" ? 1 : 3);
        // Tiles: the earlier part (by time, ties by arrival) merged with the later one.
        const i = sorted.length === 0 ? 0 : cut % (sorted.length + 1);
        let early = a.init();
        let late = a.init();
        for (const x of sorted.slice(0, i)) early = a.add(early, x.v, x.t);
        for (const x of sorted.slice(i)) late = a.add(late, x.v, x.t);
        expect(a.finalize(a.merge(early, late), 0)).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });

  it("finalize of the empty state follows the contract", () => {
    const empty = (kind: AggKind) => {
      const a = algebraOf({ kind, ...params });
      return a.finalize(a.init(), 0);
    };
    expect(KINDS.map((k) => [k, empty(k)])).toEqual([
      ["count", 0], ["sum", 0], ["avg", null], ["min", null], ["max", null], ["variance", null], ["stddev", null],
      ["first", null], ["last", null], ["firstK", []], ["lastK", []], ["distinctCount", 0], ["approxDistinct", 0],
      ["approxQuantile", null], ["topK", []], ["decayedSum", 0],
    ]);
  });

  it("computes known values", () => {
    const xs = [2, 4, 4, 4, 5, 5, 7, 9].map((v, i) => ({ v, t: i * 1000 }));
    const fin = (kind: AggKind, at = 7000) => algebraOf({ kind, ...params }).finalize(fold(kind, xs), at);
    expect(fin("variance")).toBe(4);
    expect(fin("stddev")).toBe(2);
    expect(fin("firstK")).toEqual([2, 4, 4]);
    expect(fin("lastK")).toEqual([9, 7, 5]);
    expect(fin("topK")).toEqual([{ value: 4, count: 3 }, { value: 5, count: 2 }, { value: 2, count: 1 }]);
    expect(fin("distinctCount")).toBe(5);
    // Half-life 1000 ms: the newest value weighs 1, the one before 1/2, ...
    expect(fin("decayedSum")).toBeCloseTo(9 + 7 / 2 + 5 / 4 + 5 / 8 + 4 / 16 + 4 / 32 + 4 / 64 + 2 / 128, 12);
  });
});

describe("DDSketch", () => {
  it("answers every quantile within its relative accuracy", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e9, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 400 }), fc.double({ min: 0, max: 1, noNaN: true }), (xs, q) => {
        const s = new DDSketch(0.01);
        for (const x of xs) s.add(x);
        const sorted = xs.slice().sort((a, b) => a - b);
        const exact = sorted[Math.max(0, Math.ceil(q * xs.length) - 1)] as number;
        const got = s.quantile(q);
        expect(Math.abs(got - exact)).toBeLessThanOrEqual(0.01 * Math.abs(exact) * (1 + 1e-9) + 1e-300);
      }),
    );
  });

  it("is empty again after removing everything, and refuses to merge another accuracy", () => {
    const s = new DDSketch(0.05);
    for (const x of [1, 2, 3, -4, 0]) s.add(x);
    for (const x of [1, 2, 3, -4, 0]) s.remove(x);
    expect(s.count).toBe(0);
    expect(s.quantile(0.5)).toBeNaN();
    expect(() => s.merge(new DDSketch(0.01))).toThrow(/accuracy/);
  });
});

describe("HyperLogLog", () => {
  it("estimates within four standard errors and merges by register", () => {
    const a = new HyperLogLog(10);
    const b = new HyperLogLog(10);
    const all = new HyperLogLog(10);
    for (let i = 0; i < 50_000; i++) {
      (i % 2 === 0 ? a : b).add(`user-${i}`);
      all.add(`user-${i}`);
    }
    a.merge(b);
    expect(a.registers).toEqual(all.registers);
    const err = Math.abs(all.estimate() - 50_000) / 50_000;
    expect(err).toBeLessThan(4 * (1.04 / Math.sqrt(1024)));
    // Small cardinalities use linear counting: exact for a handful of values.
    const few = new HyperLogLog(10);
    for (const v of ["a", "b", "c", 1, 2, true]) few.add(v);
    expect(few.estimate()).toBe(6);
  });

  it("sliding: the estimate over a window equals a fresh sketch of the window's values", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 200 }), fc.array(fc.nat({ max: 20 }), { minLength: 1 }), (vals, steps) => {
        const sliding = new SlidingHll(6);
        let lo = 0;
        let hi = 0;
        let k = 0;
        while (hi < vals.length) {
          const next = Math.min(vals.length, hi + 1 + (steps[k++ % steps.length] as number));
          for (let p = hi; p < next; p++) sliding.add(p, vals[p]);
          hi = next;
          lo = Math.max(lo, hi - 25);
          sliding.slide(lo);
          const fresh = new HyperLogLog(6);
          for (let p = lo; p < hi; p++) fresh.add(vals[p]);
          expect(sliding.estimate()).toBe(fresh.estimate());
        }
      }),
    );
  });
});

describe("compareValues", () => {
  it("orders numbers, then strings, then booleans", () => {
    expect([true, "b", 3, "a", -1, false].sort(compareValues)).toEqual([-1, 3, "a", "b", false, true]);
  });
});
