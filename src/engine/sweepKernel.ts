import { boundCode, featureLines, type KernelShape, type KernelState } from "./readKernel.js";
import type { FeatureColumn } from "./windowReaders.js";
import { perLayout } from "./kernelCache.js";

/** What a sweep reads of a key's state beyond the read kernel's (KeyState has these). */
export interface SweepState extends KernelState {
  readonly first: number;
  upperBound(t: number): number;
}

/**
 * Reads one key at the times `times[from..to)` (non-decreasing, finite) and
 * writes every feature of read j into out[k][rows[j]]. `deques[d]` is
 * scratch for min/max feature d, at least as long as the key's retained events.
 * The key's `end` must be at most KERNEL_MAX_POSITION.
 */
export type SweepKernel = (st: SweepState, times: Float64Array, from: number, to: number, rows: Uint32Array, out: readonly FeatureColumn[], deques: readonly Int32Array[]) => void;

/**
 * Generates a sweep for one table's layout: the read kernel's arithmetic
 * (readKernel.ts) for many reads of one key in time order, with the window
 * positions and the min/max deques held in locals rather than in a
 * WindowCursor. It starts where WindowCursor would be rebuilt at the first
 * time (binary searches, deques filled from their window's start) and then
 * only moves forward, so each read equals KeyState.readIntoGeneric at that
 * time (a test checks both on random data). Sessions, tiles and window
 * readers are not supported (undefined).
 */
export function compileSweepKernel(layout: KernelShape): SweepKernel | undefined {
  const lines: string[] = [];
  const wins = layout.windows;
  const dqs = layout.deques;
  const bound = (i: number): string => boundCode(wins[i] as (typeof wins)[number]);
  // A monotonic deque (MonotonicDeque.push and trim): positions in q{d}[h{d}..e{d}), better-first; null never wins.
  const push = (d: number): string => {
    const slot = dqs[d] as (typeof dqs)[number];
    const worse = slot.kind === "max" ? "<=" : ">=";
    return `{ const v = v${d}[p - off]; if (v === v) { while (e${d} > h${d} && v${d}[q${d}[e${d} - 1] - off] ${worse} v) e${d}--; q${d}[e${d}++] = p; } }`;
  };
  lines.push("const ts = st.ts, off = st.off | 0, end = st.end | 0;");
  lines.push("let t = times[from];");
  lines.push("let hi = st.upperBound(t) | 0;");
  wins.forEach((_, i) => lines.push(`let lo${i} = st.upperBound(${bound(i)}) | 0;`));
  dqs.forEach((d, i) => {
    lines.push(`const q${i} = deques[${i}], v${i} = st.vals[${d.field}]; let h${i} = 0, e${i} = 0;`);
    lines.push(`for (let p = lo${d.window}; p < hi; p++) ${push(i)}`);
  });
  lines.push("for (let index = from; index < to; index++) {");
  lines.push("  if (index > from) {");
  lines.push("    t = times[index];");
  lines.push("    const start = hi;");
  lines.push("    while (hi < end && ts[hi - off] <= t) hi++;");
  wins.forEach((_, i) => lines.push(`    { const b = ${bound(i)}; while (lo${i} < hi && ts[lo${i} - off] <= b) lo${i}++; }`));
  dqs.forEach((d, i) => {
    lines.push(`    for (let p = start; p < hi; p++) ${push(i)}`);
    lines.push(`    while (h${i} < e${i} && q${i}[h${i}] < lo${d.window}) h${i}++;`);
  });
  lines.push("  }");
  lines.push("  const h = hi - off, row = rows[index];");
  const features = featureLines(layout, {
    index: "row",
    hi: "h",
    lo: (w) => `(lo${w} - off)`,
    front: (d) => `(h${d} < e${d} ? q${d}[h${d}] : -1)`,
  });
  if (features === undefined) return undefined;
  lines.push(...features.map((l) => `  ${l}`));
  lines.push("}");
  try {
    return new Function("st", "times", "from", "to", "rows", "out", "deques", `${lines.join("\n")}\n//# sourceURL=freshet-generated/sweep-kernel.js`) as SweepKernel;
  } catch {
    return undefined;
  }
}

/** The sweep of a layout, compiled once per layout; undefined where the read kernel is (sessions, tiles, window readers). */
export const sweepKernelOf = perLayout(compileSweepKernel);
