import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StorageError } from "../errors.js";
import { FeatureStatsAccumulator, HISTOGRAM_BINS, RESOLUTION_BITS, statsOf } from "./featureStats.js";
import type { FeatureStats } from "./registry.js";

/** Mixed feature values: numbers of several scales, nulls, and non-numeric values that only count. */
const value: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.double({ min: -1e9, max: 1e9, noNaN: true }), weight: 4 },
  { arbitrary: fc.integer({ min: -50, max: 50 }), weight: 4 },
  { arbitrary: fc.double({ min: -1e-6, max: 1e-6, noNaN: true }), weight: 1 },
  { arbitrary: fc.constantFrom(null, undefined), weight: 1 },
  { arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY), weight: 1 },
  { arbitrary: fc.oneof(fc.string(), fc.boolean(), fc.array(fc.double(), { maxLength: 3 })), weight: 1 },
);
const values = fc.array(value, { maxLength: 80 });

function numericOf(vs: readonly unknown[]): number[] {
  return vs.filter((v): v is number => typeof v === "number" && Number.isFinite(v)).map((v) => v + 0);
}

/** The statistics computed directly, two passes, no incremental tricks. */
function direct(vs: readonly unknown[]): Omit<FeatureStats, "histogram"> {
  const xs = numericOf(vs);
  const nulls = vs.filter((v) => v === null || v === undefined).length;
  if (xs.length === 0) return { count: vs.length, nulls, min: null, max: null, mean: null, stddev: null };
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
  return { count: vs.length, nulls, min: Math.min(...xs), max: Math.max(...xs), mean, stddev: Math.sqrt(variance) };
}

function expectClose(actual: number | null, expected: number | null, scale: number): void {
  if (expected === null) {
    expect(actual).toBeNull();
    return;
  }
  expect(actual).not.toBeNull();
  expect(Math.abs((actual ?? Number.NaN) - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, scale));
}

/** Checks every statistic against the direct computation, and every bin against a count of the values in it. */
function expectMatchesDirect(stats: FeatureStats, vs: readonly unknown[]): void {
  const d = direct(vs);
  const xs = numericOf(vs);
  const scale = Math.max(0, ...xs.map(Math.abs));
  expect(stats.count).toBe(d.count);
  expect(stats.nulls).toBe(d.nulls);
  expect(stats.min).toBe(d.min);
  expect(stats.max).toBe(d.max);
  expectClose(stats.mean, d.mean, scale);
  expectClose(stats.stddev, d.stddev, scale);
  expectHistogramOf(stats, xs);
}

function expectHistogramOf(stats: FeatureStats, xs: readonly number[]): void {
  const h = stats.histogram;
  expect(h.reduce((s, b) => s + b.count, 0)).toBe(xs.length);
  if (xs.length === 0) {
    expect(h).toEqual([]);
    return;
  }
  expect(h.length).toBeGreaterThanOrEqual(1);
  expect(h.length).toBeLessThanOrEqual(HISTOGRAM_BINS);
  const first = h[0];
  const last = h[h.length - 1];
  if (first === undefined || last === undefined) throw new Error("unreachable: histogram has bins");
  const width = first.upper - first.lower;
  expect(Number.isInteger(Math.log2(width))).toBe(true);
  h.forEach((b, i) => {
    expect(b.upper - b.lower).toBe(width);
    if (i > 0) expect(b.lower).toBe(h[i - 1]?.upper);
    expect(b.count).toBe(xs.filter((x) => x >= b.lower && x < b.upper).length);
  });
  expect(first.count).toBeGreaterThan(0);
  expect(last.count).toBeGreaterThan(0);
  // The width is the smallest the rule allows: half of it would need more
  // than HISTOGRAM_BINS bins, or be finer than the resolution floor.
  const half = width / 2;
  const maxAbs = Math.max(...xs.map(Math.abs));
  // Bin index without dividing when |x| < width: a denormal over a bin width underflows to -0.
  const bin = (x: number): number => (Math.abs(x) < half ? (x < 0 ? -1 : 0) : Math.floor(x / half));
  const wouldSpan = bin(Math.max(...xs)) - bin(Math.min(...xs)) + 1;
  const belowFloor = maxAbs === 0 ? half < Number.MIN_VALUE : half < 2 ** (Math.floor(Math.log2(maxAbs)) + 1 - RESOLUTION_BITS);
  expect(wouldSpan > HISTOGRAM_BINS || belowFloor || half < Number.MIN_VALUE).toBe(true);
}

function accumulate(vs: readonly unknown[]): FeatureStatsAccumulator {
  return new FeatureStatsAccumulator().addAll(vs);
}

describe("FeatureStatsAccumulator", () => {
  it("matches a direct computation over the same values", () => {
    fc.assert(
      fc.property(values, (vs) => expectMatchesDirect(accumulate(vs).snapshot(), vs)),
      { numRuns: 500 },
    );
  });

  it("gives the same histogram, count, nulls, min and max whatever the arrival order", () => {
    fc.assert(
      fc.property(values, fc.nat(), (vs, seed) => {
        const shuffled = [...vs].sort((a, b) => ((hashOf(a, seed) - hashOf(b, seed)) | 0));
        const a = accumulate(vs).snapshot();
        const b = accumulate(shuffled).snapshot();
        expect({ ...b, mean: null, stddev: null }).toEqual({ ...a, mean: null, stddev: null });
        expectMatchesDirect(b, vs);
      }),
      { numRuns: 300 },
    );
  });

  it("merging the accumulators of any split equals accumulating the whole", () => {
    fc.assert(
      fc.property(fc.array(values, { maxLength: 5 }), (parts) => {
        const whole = parts.flat();
        const merged = parts.reduce((acc, part) => acc.merge(accumulate(part)), new FeatureStatsAccumulator());
        const m = merged.snapshot();
        expect(m.histogram).toEqual(accumulate(whole).snapshot().histogram);
        expectMatchesDirect(m, whole);
      }),
      { numRuns: 300 },
    );
  });

  it("merging leaves the other accumulator unchanged", () => {
    const other = accumulate([1, 2, 3]);
    const before = other.toJSON();
    accumulate([100, -100]).merge(other);
    expect(other.toJSON()).toEqual(before);
  });

  it("survives a JSON round trip and keeps accumulating exactly as before", () => {
    fc.assert(
      fc.property(values, values, (first, second) => {
        const original = accumulate(first);
        const restored = FeatureStatsAccumulator.fromJSON(JSON.parse(JSON.stringify(original)));
        expect(restored.snapshot()).toEqual(original.snapshot());
        expect(restored.addAll(second).toJSON()).toEqual(original.addAll(second).toJSON());
      }),
      { numRuns: 300 },
    );
  });

  it("lays out a small example as the rule says", () => {
    // max |x| = 9: floor width 2^(4-40); 20 bins of width 0.5 cover [0, 10), width 0.25 would need 37.
    const s = statsOf([0, 1, 2, 9, 9.25, "x", null]);
    expect(s).toMatchObject({ count: 7, nulls: 1, min: 0, max: 9.25, mean: 4.25 });
    expect(s.histogram.length).toBe(19);
    expect(s.histogram[0]).toEqual({ lower: 0, upper: 0.5, count: 1 });
    expect(s.histogram[2]).toEqual({ lower: 1, upper: 1.5, count: 1 });
    expect(s.histogram[18]).toEqual({ lower: 9, upper: 9.5, count: 2 });
    expect(s.histogram.filter((b) => b.count === 0).length).toBe(15);
  });

  it("widens by merging adjacent bins when a value falls outside the range", () => {
    const acc = accumulate([0, 1, 2, 9]);
    expect(acc.snapshot().histogram[0]).toEqual({ lower: 0, upper: 0.5, count: 1 });
    acc.add(-30); // range [-30, 9]: width 2 (bins -15..4)
    const h = acc.snapshot().histogram;
    expect(h.map((b) => b.upper - b.lower)).toEqual(new Array<number>(20).fill(2));
    expect(h[0]).toEqual({ lower: -30, upper: -28, count: 1 });
    expect(h.filter((b) => b.count > 0)).toEqual([
      { lower: -30, upper: -28, count: 1 },
      { lower: 0, upper: 2, count: 2 },
      { lower: 2, upper: 4, count: 1 },
      { lower: 8, upper: 10, count: 1 },
    ]);
  });

  it("reports no numeric statistics when only non-numeric values arrived", () => {
    expect(statsOf(["a", true, [1, 2], { a: 1 }, null, undefined, Number.NaN, 10n])).toEqual({
      count: 8,
      nulls: 2,
      min: null,
      max: null,
      mean: null,
      stddev: null,
      histogram: [],
    });
    expect(statsOf([])).toEqual({ count: 0, nulls: 0, min: null, max: null, mean: null, stddev: null, histogram: [] });
  });

  it("keeps one value, repeated values and -0 in a single bin", () => {
    expect(statsOf([5, 5, 5]).histogram).toEqual([{ lower: 5, upper: 5 + 2 ** (3 - RESOLUTION_BITS), count: 3 }]);
    const zeros = statsOf([-0, 0]);
    expect(zeros).toMatchObject({ min: 0, max: 0, mean: 0, stddev: 0 });
    expect(zeros.histogram).toEqual([{ lower: 0, upper: Number.MIN_VALUE, count: 2 }]);
  });

  it("bins exactly across extreme magnitudes", () => {
    const xs = [Number.MIN_VALUE, -Number.MIN_VALUE, 1e-300, 1e300, -1e300, 123.5, 2 ** 60];
    fc.assert(
      fc.property(fc.shuffledSubarray(xs, { minLength: 1 }), (sub) => {
        const s = statsOf(sub);
        expectHistogramOf(s, sub);
        expect(s.histogram).toEqual(statsOf([...sub].reverse()).histogram);
      }),
    );
  });

  it("keeps the standard deviation accurate for large values with a small spread", () => {
    const xs = Array.from({ length: 1000 }, (_, i) => 1e9 + (i % 10));
    const s = statsOf(xs);
    // Naive sums of squares lose everything here (1e18 against a variance of 8.25).
    expect(Math.abs((s.mean ?? 0) - (1e9 + 4.5))).toBeLessThan(1e-9 * 1e9);
    expect(Math.abs((s.stddev ?? 0) - Math.sqrt(8.25))).toBeLessThan(1e-6);
  });

  it("refuses JSON that is not what toJSON writes, naming where it came from", () => {
    const good = accumulate([1, 2, 3, null]).toJSON();
    const cases: unknown[] = [
      null,
      "stats",
      { ...good, format: 2 },
      { ...good, count: -1 },
      { ...good, count: 2 },
      good.numeric === null ? null : { ...good, numeric: { ...good.numeric, bins: [1, 1, 2] } },
      good.numeric === null ? null : { ...good, numeric: { ...good.numeric, exponent: good.numeric.exponent + 1 } },
      good.numeric === null ? null : { ...good, numeric: { ...good.numeric, firstBin: good.numeric.firstBin - 1 } },
    ];
    for (const c of cases) {
      expect(() => FeatureStatsAccumulator.fromJSON(c, "registry.json stats of user:age")).toThrow(StorageError);
      expect(() => FeatureStatsAccumulator.fromJSON(c, "registry.json stats of user:age")).toThrow(/registry\.json stats of user:age/);
    }
    expect(FeatureStatsAccumulator.fromJSON(good).toJSON()).toEqual(good);
  });
});

/** A deterministic per-seed shuffle key for any value. */
function hashOf(v: unknown, seed: number): number {
  const text = `${typeof v}:${String(v)}`;
  let h = seed | 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x9e3779b1);
  return h;
}

describe("denormals", () => {
  it("a negative denormal lands in bin [-w, 0), and the width is still the smallest the rule allows", () => {
    const vs = [38, -5e-324];
    expectMatchesDirect(accumulate(vs).snapshot(), vs);
    expect(accumulate(vs).snapshot().histogram[0]).toEqual({ lower: -4, upper: 0, count: 1 });
  });
});
