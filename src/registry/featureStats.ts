/**
 * Feature statistics kept incrementally: an accumulator that takes values one
 * batch at a time, merges with another accumulator exactly, and survives a
 * JSON round trip (the file registry stores it in its file, PostgreSQL in a
 * jsonb column).
 *
 * Moments use Welford's update (and Chan's formula to merge), which stays
 * accurate where naive sums of squares cancel catastrophically.
 *
 * The histogram rule. At most HISTOGRAM_BINS (20) bins of equal width
 * w = 2^k; bin i holds [i·w, (i+1)·w). Because widths are powers of two,
 * a value's bin is computed without rounding (x / w is exact whenever
 * |x| >= w), and doubling w merges adjacent pairs of bins exactly. k is the
 * smallest integer such that
 *   1. k >= e - RESOLUTION_BITS, where 2^(e-1) <= max|x| < 2^e (bins are never
 *      finer than 2^-40 of the largest magnitude, so bin indices stay well
 *      inside the safe integers), and
 *   2. the bins of min and of max are at most 20 apart (bin(max) - bin(min) < 20).
 * Both conditions only get harder as values arrive, so k only grows, and k
 * and every bin count are functions of the multiset of values alone: the
 * histogram does not depend on arrival order, on how values were split into
 * batches, or on the order accumulators were merged. The snapshot lists the
 * bins from bin(min) to bin(max), empty ones between included, so the first
 * bin starts at or below min and the last ends above max; counts are exact
 * and sum to the number of numeric values.
 *
 * Numeric values are finite numbers (-0 is recorded as 0). Everything else
 * (strings, booleans, arrays, objects, NaN, ±Infinity, bigint) counts toward
 * `count` only, and null/undefined toward `nulls` as well.
 */
import { z } from "zod";
import { StorageError } from "../errors.js";
import type { FeatureStats, HistogramBin } from "./registry.js";

export const HISTOGRAM_BINS = 20;
/** Bins are never narrower than 2^-RESOLUTION_BITS of the largest magnitude seen. */
export const RESOLUTION_BITS = 40;
/** 2^-1074 is the smallest positive double: no bin can be narrower. */
const MIN_EXPONENT = -1074;

/** The numeric part; absent until the first finite number arrives. */
interface NumericState {
  n: number;
  mean: number;
  /** Sum of squared deviations from the mean (Welford's M2). */
  m2: number;
  min: number;
  max: number;
  /** Bin width is 2^exponent. */
  exponent: number;
  /** Index of the bin holding min; bins[j] counts bin firstBin + j. */
  firstBin: number;
  bins: number[];
}

/** The serialized form: what toJSON writes and fromJSON accepts. */
export interface FeatureStatsJson {
  readonly format: 1;
  readonly count: number;
  readonly nulls: number;
  readonly numeric: {
    readonly n: number;
    readonly mean: number;
    readonly m2: number;
    readonly min: number;
    readonly max: number;
    readonly exponent: number;
    readonly firstBin: number;
    readonly bins: readonly number[];
  } | null;
}

const count = z.number().int().nonnegative();
const finite = z.number().refine(Number.isFinite, "must be a finite number");
const statsJsonSchema = z.object({
  format: z.literal(1),
  count,
  nulls: count,
  numeric: z
    .object({
      n: z.number().int().positive(),
      mean: finite,
      m2: finite.refine((v) => v >= 0, "must not be negative"),
      min: finite,
      max: finite,
      exponent: z.number().int().min(MIN_EXPONENT).max(1023),
      firstBin: z.number().int(),
      bins: z.array(count).min(1).max(HISTOGRAM_BINS),
    })
    .nullable(),
});

export class FeatureStatsAccumulator {
  private count = 0;
  private nulls = 0;
  private numeric: NumericState | null = null;

  add(value: unknown): void {
    this.count += 1;
    if (value === null || value === undefined) this.nulls += 1;
    else if (typeof value === "number" && Number.isFinite(value)) this.addNumber(value + 0);
  }

  addAll(values: readonly unknown[]): this {
    for (const v of values) this.add(v);
    return this;
  }

  /** Adds everything `other` has seen; `other` is left as it was. */
  merge(other: FeatureStatsAccumulator): this {
    this.count += other.count;
    this.nulls += other.nulls;
    const b = other.numeric;
    if (b === null) return this;
    const a = this.numeric;
    if (a === null) {
      this.numeric = { ...b, bins: [...b.bins] };
      return this;
    }
    const n = a.n + b.n;
    const delta = b.mean - a.mean;
    const min = Math.min(a.min, b.min);
    const max = Math.max(a.max, b.max);
    const exponent = canonicalExponent(min, max, Math.max(a.exponent, b.exponent));
    const firstBin = binIndex(min, exponent);
    const bins = new Array<number>(binIndex(max, exponent) - firstBin + 1).fill(0);
    addBins(bins, firstBin, exponent, a);
    addBins(bins, firstBin, exponent, b);
    this.numeric = {
      n,
      mean: a.mean + (delta * b.n) / n,
      m2: a.m2 + b.m2 + ((delta * delta * a.n) / n) * b.n,
      min,
      max,
      exponent,
      firstBin,
      bins,
    };
    return this;
  }

  snapshot(): FeatureStats {
    const s = this.numeric;
    if (s === null) return { count: this.count, nulls: this.nulls, min: null, max: null, mean: null, stddev: null, histogram: [] };
    const width = 2 ** s.exponent;
    const histogram: HistogramBin[] = s.bins.map((c, j) => ({
      lower: (s.firstBin + j) * width,
      upper: (s.firstBin + j + 1) * width,
      count: c,
    }));
    return {
      count: this.count,
      nulls: this.nulls,
      min: s.min,
      max: s.max,
      mean: s.mean,
      stddev: Math.sqrt(Math.max(0, s.m2 / s.n)),
      histogram,
    };
  }

  toJSON(): FeatureStatsJson {
    const s = this.numeric;
    return { format: 1, count: this.count, nulls: this.nulls, numeric: s === null ? null : { ...s, bins: [...s.bins] } };
  }

  /**
   * Parses what toJSON wrote, checking that the parts agree with each other
   * (bins sum to the numeric count, the bin layout follows the histogram
   * rule), so a damaged record fails here rather than merging into nonsense.
   * `where` names the source for the error message (a file, a table row).
   */
  static fromJSON(input: unknown, where = "feature statistics"): FeatureStatsAccumulator {
    const parsed = statsJsonSchema.safeParse(input);
    if (!parsed.success) {
      throw new StorageError(`${where}: not valid feature statistics: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
    }
    const j = parsed.data;
    const bad = (why: string): never => {
      throw new StorageError(`${where}: not valid feature statistics: ${why}`);
    };
    const out = new FeatureStatsAccumulator();
    out.count = j.count;
    out.nulls = j.nulls;
    if (j.numeric !== null) {
      const s = j.numeric;
      if (j.nulls + s.n > j.count) bad(`nulls (${j.nulls}) plus numeric values (${s.n}) exceed count (${j.count})`);
      if (s.min > s.max) bad(`min ${s.min} is above max ${s.max}`);
      const exponent = canonicalExponent(s.min, s.max, MIN_EXPONENT);
      if (s.exponent !== exponent) bad(`histogram exponent ${s.exponent} should be ${exponent} for the range [${s.min}, ${s.max}]`);
      const first = binIndex(s.min, exponent);
      const last = binIndex(s.max, exponent);
      if (s.firstBin !== first || s.bins.length !== last - first + 1) bad(`histogram bins do not span the range [${s.min}, ${s.max}]`);
      const total = s.bins.reduce((t, c) => t + c, 0);
      if (total !== s.n) bad(`histogram counts sum to ${total}, not to the ${s.n} numeric values`);
      out.numeric = { ...s, bins: [...s.bins] };
    } else if (j.nulls > j.count) bad(`nulls (${j.nulls}) exceed count (${j.count})`);
    return out;
  }

  private addNumber(x: number): void {
    const s = this.numeric;
    if (s === null) {
      const exponent = canonicalExponent(x, x, MIN_EXPONENT);
      this.numeric = { n: 1, mean: x, m2: 0, min: x, max: x, exponent, firstBin: binIndex(x, exponent), bins: [1] };
      return;
    }
    s.n += 1;
    const delta = x - s.mean;
    s.mean += delta / s.n;
    s.m2 += delta * (x - s.mean);
    if (x < s.min || x > s.max) {
      s.min = Math.min(s.min, x);
      s.max = Math.max(s.max, x);
      const exponent = canonicalExponent(s.min, s.max, s.exponent);
      regroup(s, exponent);
    }
    const at = binIndex(x, s.exponent) - s.firstBin;
    s.bins[at] = (s.bins[at] ?? 0) + 1;
  }
}

/** Statistics of `values` in one pass: the same as adding them to a fresh accumulator. */
export function statsOf(values: readonly unknown[]): FeatureStats {
  return new FeatureStatsAccumulator().addAll(values).snapshot();
}

function binIndex(x: number, exponent: number): number {
  const width = 2 ** exponent;
  // Dividing by a power of two is exact unless the quotient underflows (a
  // tiny x over a wide bin): settle |x| < width without dividing.
  if (Math.abs(x) < width) return x < 0 ? -1 : 0;
  return Math.floor(x / width);
}

/** Index of the bin containing bin `index` once the width grows by 2^steps. */
function coarserIndex(index: number, steps: number): number {
  // |index| < 2^41 (RESOLUTION_BITS plus the 20-bin span), so beyond 60
  // doublings every bin is 0 or -1; this also keeps 2^steps finite.
  if (steps > 60) return index < 0 ? -1 : 0;
  return Math.floor(index / 2 ** steps) + 0;
}

/** Exponent e with 2^(e-1) <= m < 2^e, for m > 0. */
function magnitudeExponent(m: number): number {
  let e = Math.ceil(Math.log2(m));
  // log2 may be off by one near powers of two; settle it exactly.
  while (2 ** e <= m) e += 1;
  while (e > MIN_EXPONENT && 2 ** (e - 1) > m) e -= 1;
  return e;
}

/**
 * The smallest exponent >= `atLeast` meeting the histogram rule for [min, max].
 * Passing the current exponent as `atLeast` is safe because the rule's
 * exponent never shrinks as the range widens.
 */
function canonicalExponent(min: number, max: number, atLeast: number): number {
  const magnitude = Math.max(Math.abs(min), Math.abs(max));
  const floor = magnitude === 0 ? MIN_EXPONENT : Math.max(MIN_EXPONENT, magnitudeExponent(magnitude) - RESOLUTION_BITS);
  let k = Math.max(atLeast, floor);
  while (binIndex(max, k) - binIndex(min, k) >= HISTOGRAM_BINS) k += 1;
  return k;
}

/** Moves the bins of `s` to `exponent` (>= the current one) and to span its min..max, keeping every count. */
function regroup(s: NumericState, exponent: number): void {
  const firstBin = binIndex(s.min, exponent);
  const bins = new Array<number>(binIndex(s.max, exponent) - firstBin + 1).fill(0);
  addBins(bins, firstBin, exponent, s);
  s.exponent = exponent;
  s.firstBin = firstBin;
  s.bins = bins;
}

/**
 * Adds the counts of `s` into `bins` (bin firstBin + j at index j, width
 * 2^exponent, exponent >= s.exponent). Exact: each old bin lies inside one new bin.
 */
function addBins(bins: number[], firstBin: number, exponent: number, s: Readonly<NumericState>): void {
  const steps = exponent - s.exponent;
  s.bins.forEach((c, j) => {
    const at = coarserIndex(s.firstBin + j, steps) - firstBin;
    bins[at] = (bins[at] ?? 0) + c;
  });
}
