import { FeatureCode } from "./featureCode.js";
import type { WindowCursor } from "./windowCursor.js";
import type { FeatureColumn } from "./windowReaders.js";
import type { WindowSlot } from "./layout.js";

/** What the generated code reads of a key's state (KeyState has these). */
export interface KernelState {
  readonly ts: Float64Array;
  readonly off: number;
  readonly end: number;
  readonly vals: readonly Float64Array[];
  readonly psum: readonly Float64Array[];
  readonly pcomp: readonly Float64Array[];
  readonly pnn: readonly Float64Array[];
  rebuild(cur: WindowCursor, t: number): void;
}

/**
 * The largest key position (KernelState.end) the emit and sweep kernels
 * take. They keep positions in 32-bit integers (`| 0` where they load them):
 * V8 otherwise carries positions read from a Float64Array (the cursor's) as
 * doubles and converts each back at every array index. A key past this
 * (over two billion events in its life) goes through the generic path.
 */
export const KERNEL_MAX_POSITION = 0x7fffffff;

/** The parts of a layout the generator unrolls. */
export interface KernelShape {
  readonly windows: readonly WindowSlot[]; // sliding and hopping only (sessions use the generic path)
  readonly deques: ReadonlyArray<{ readonly kind: "min" | "max"; readonly field: number; readonly window: number }>;
  readonly features: ReadonlyArray<{ readonly code: FeatureCode; readonly field: number; readonly square: number; readonly window: number; readonly deque: number }>;
}

/** Moves a cursor to t and writes every feature of a key into out[k][index] (NaN = null). */
export type ReadKernel = (st: KernelState, cur: WindowCursor, t: number, out: readonly FeatureColumn[], index: number) => void;

/**
 * Generates the read path for one table's layout: windows, deques and
 * features unrolled with their constants, so the hot loop of a replay does no
 * dispatch on the layout. It computes exactly what KeyState.readIntoGeneric
 * computes (a test checks both on random data); that generic version also
 * serves when code generation is disabled.
 */
export function compileReadKernel(layout: KernelShape): ReadKernel | undefined {
  const lines: string[] = [];
  lines.push("if (cur.valid && t >= cur.t) {");
  lines.push("  const ts = st.ts, off = st.off, end = st.end, los = cur.lo;");
  lines.push("  let hi = cur.hi; const from = hi;");
  lines.push("  while (hi < end && ts[hi - off] <= t) hi++;");
  lines.push("  cur.hi = hi;");
  layout.windows.forEach((w, i) => {
    lines.push(`  { let lo = los[${i}]; const b = ${boundCode(w)}; while (lo < hi && ts[lo - off] <= b) lo++; los[${i}] = lo; }`);
  });
  layout.deques.forEach((d, i) => {
    lines.push(`  { const dq = cur.deques[${i}], vals = st.vals[${d.field}];`);
    lines.push(`    for (let p = from; p < hi; p++) { const v = vals[p - off]; if (v === v) dq.push(p, v, ${d.kind === "max"}); }`);
    lines.push(`    dq.trim(los[${d.window}]); }`);
  });
  lines.push("  cur.t = t;");
  lines.push("} else st.rebuild(cur, t);");
  lines.push("const off = st.off, hi = cur.hi - off, los = cur.lo;");
  const features = featureLines(layout, { index: "index", hi: "hi", lo: (w) => `(los[${w}] - off)`, extreme: (d) => `cur.deques[${d}].frontValue()` });
  if (features === undefined) return undefined;
  lines.push(...features);
  try {
    return new Function("st", "cur", "t", "out", "index", `${lines.join("\n")}\n//# sourceURL=freshet-generated/read-kernel.js`) as ReadKernel;
  } catch {
    return undefined;
  }
}

/** windowBound (layout.ts) as generated code over a local `t`. */
export function boundCode(w: WindowSlot): string {
  return w.hop === 0 ? `t - ${w.size}` : `Math.floor(t / ${w.hop}) * ${w.hop} - ${w.size - w.hop + 1}`;
}

/** How featureLines names what it reads and writes. */
export interface FeatureNames {
  /** The output row index. */
  readonly index: string;
  /** The array index one past the last event read. */
  readonly hi: string;
  /** Window w's first array index. */
  readonly lo: (window: number) => string;
  /** Deque d's front value (NaN: empty); used where given. */
  readonly extreme?: (deque: number) => string;
  /** Otherwise deque d's front position (-1: empty), whose value is read from the state. */
  readonly front?: (deque: number) => string;
  /** Feature k's output column (default out[k]). */
  readonly column?: (feature: number) => string;
  /** A per-field array of the state (default st.psum[f], ...). */
  readonly array?: (name: "psum" | "pcomp" | "pnn" | "vals", field: number) => string;
}

/**
 * The lines writing every feature into its output column at the output index
 * from a key's state `st` (`off` in scope). Undefined when a feature needs a
 * window reader.
 */
export function featureLines(layout: KernelShape, names: FeatureNames): string[] | undefined {
  const { index, hi, lo, front, extreme } = names;
  const column = names.column ?? ((k: number) => `out[${k}]`);
  const array = names.array ?? ((name: string, field: number) => `st.${name}[${field}]`);
  const lines: string[] = [];
  for (const [k, f] of layout.features.entries()) {
    const o = column(k);
    switch (f.code) {
      case FeatureCode.Count:
        lines.push(`${o}[${index}] = ${hi} - ${lo(f.window)};`);
        break;
      case FeatureCode.Sum:
        lines.push(`{ const lo = ${lo(f.window)}, ps = ${array("psum", f.field)}, pc = ${array("pcomp", f.field)};`);
        lines.push(`  ${o}[${index}] = lo === ${hi} ? 0 : ps[${hi}] - ps[lo] + (pc[${hi}] - pc[lo]); }`);
        break;
      case FeatureCode.Avg:
        lines.push(`{ const lo = ${lo(f.window)}, ps = ${array("psum", f.field)}, pc = ${array("pcomp", f.field)}, pn = ${array("pnn", f.field)};`);
        lines.push(`  const n = pn[${hi}] - pn[lo];`);
        lines.push(`  ${o}[${index}] = n === 0 ? NaN : (ps[${hi}] - ps[lo] + (pc[${hi}] - pc[lo])) / n; }`);
        break;
      case FeatureCode.Variance:
      case FeatureCode.Stddev:
        lines.push(
          `{ const lo = ${lo(f.window)}, ps = ${array("psum", f.field)}, pc = ${array("pcomp", f.field)}, pn = ${array("pnn", f.field)}, qs = ${array("psum", f.square)}, qc = ${array("pcomp", f.square)};`,
        );
        lines.push(`  const n = pn[${hi}] - pn[lo];`);
        lines.push(`  if (n === 0) ${o}[${index}] = NaN; else {`);
        lines.push(`    const s1 = ps[${hi}] - ps[lo] + (pc[${hi}] - pc[lo]), s2 = qs[${hi}] - qs[lo] + (qc[${hi}] - qc[lo]);`);
        lines.push(`    const d = (s2 - (s1 * s1) / n) / n, variance = d > 0 ? d : 0;`);
        lines.push(`    ${o}[${index}] = ${f.code === FeatureCode.Variance ? "variance" : "Math.sqrt(variance)"}; } }`);
        break;
      case FeatureCode.Window:
        return undefined; // window readers go through KeyState.readIntoGeneric
      case FeatureCode.Extremum:
        if (extreme !== undefined) {
          lines.push(`${o}[${index}] = ${extreme(f.deque)};`);
        } else if (front !== undefined) {
          lines.push(`{ const front = ${front(f.deque)};`);
          lines.push(`  ${o}[${index}] = front < 0 ? NaN : ${array("vals", f.field)}[front - off]; }`);
        } else {
          return undefined;
        }
        break;
    }
  }
  return lines;
}
