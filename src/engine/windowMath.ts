import { FeatureCode } from "./featureCode.js";

/**
 * A window's sum from compensated prefix sums: P(hi) − P(lo), with P(lo) read
 * from the arrays at `lo`, or given (lo = −1: a tile snapshot's psum, pcomp).
 * Every read path computes it this way, in this order: bit-identical values
 * online and offline depend on it (the generated read kernel spells out the
 * same expression).
 */
export function windowSum(ps: Float64Array, pc: Float64Array, hi: number, lo: number, psLo: number, pcLo: number): number {
  const a = lo < 0 ? psLo : (ps[lo] as number);
  const b = lo < 0 ? pcLo : (pc[lo] as number);
  return (ps[hi] as number) - a + ((pc[hi] as number) - b);
}

/** Population variance (or its square root) of n values with sum s1 and sum of squares s2. */
export function spread(code: FeatureCode, n: number, s1: number, s2: number): number {
  const d = (s2 - (s1 * s1) / n) / n;
  const variance = d > 0 ? d : 0;
  return code === FeatureCode.Variance ? variance : Math.sqrt(variance);
}
