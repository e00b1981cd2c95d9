import { boundCode, featureLines, type KernelShape, type KernelState } from "./readKernel.js";
import type { WindowCursor } from "./windowCursor.js";
import type { FeatureColumn } from "./windowReaders.js";
import { perLayout } from "./kernelCache.js";

/** What emission reads and moves of a key's state beyond the read kernel's (KeyState has these). */
export interface EmitState extends KernelState {
  readonly first: number;
  emitPos: number;
}

/**
 * Emits one key's pending rows: one row per distinct event time from
 * `st.emitPos` (or `st.first`) while the time is below `upTo`, row i at
 * out[k][n + i] and outTs[n + i]. Moves `st.emitPos` past them and `cur` to
 * the last time emitted; returns n plus the rows written. The columns must
 * have room for one row per pending event.
 * The key's `end` must be at most KERNEL_MAX_POSITION.
 */
export type EmitKernel = (st: EmitState, cur: WindowCursor, upTo: number, outTs: Float64Array, out: readonly FeatureColumn[], n: number) => number;

/**
 * Generates the emission of one table's layout: the read kernel's arithmetic
 * (readKernel.ts) at every pending event time of a key, in one call per key,
 * with the window positions, the min/max deques, the output columns and the
 * state's arrays in locals. The cursor is moved as the read kernel moves it
 * (forward from where it is, or rebuilt at the first time), and written back
 * at the end, so each row equals what KeyState.readInto gives at its time (a
 * test checks both on random data). Undefined where the read kernel is
 * (sessions, tiles, window readers).
 */
export function compileEmitKernel(layout: KernelShape): EmitKernel | undefined {
  const wins = layout.windows;
  const dqs = layout.deques;
  const bound = (i: number): string => boundCode(wins[i] as (typeof wins)[number]);
  const prefixedFields = [...new Set(layout.features.filter((f) => f.field >= 0).flatMap((f) => (f.square >= 0 ? [f.field, f.square] : [f.field])))];
  const lines: string[] = [];
  lines.push("const ts = st.ts, off = st.off | 0, end = st.end | 0;");
  lines.push("let p = st.emitPos | 0; if (p < st.first) p = st.first | 0;");
  lines.push("if (p >= end || ts[p - off] >= upTo) { st.emitPos = p; return n; }");
  // Not named n: featureLines declares its own locals (n, lo, ...) inside each feature's block.
  lines.push("let row = n;");
  lines.push("let t = ts[p - off];");
  // As the read kernel: forward from the cursor, or rebuilt at the first time.
  lines.push("if (!(cur.valid && t >= cur.t)) st.rebuild(cur, t);");
  lines.push("let hi = cur.hi | 0; const los = cur.lo;");
  wins.forEach((_, i) => lines.push(`let lo${i} = los[${i}] | 0;`));
  dqs.forEach((d, i) => {
    // The deque runs in locals: room for every push of this call first.
    lines.push(`const dq${i} = cur.deques[${i}]; dq${i}.reserve(end - hi);`);
    lines.push(`const q${i} = dq${i}.buf, qv${i} = dq${i}.vals, v${i} = st.vals[${d.field}]; let h${i} = dq${i}.head | 0, e${i} = dq${i}.tail | 0;`);
  });
  layout.features.forEach((_, k) => lines.push(`const o${k} = out[${k}];`));
  for (const f of prefixedFields) lines.push(`const psum${f} = st.psum[${f}], pcomp${f} = st.pcomp[${f}], pnn${f} = st.pnn[${f}];`);
  lines.push("while (p < end) {");
  lines.push("  const at = ts[p - off];");
  lines.push("  if (at >= upTo) break;");
  lines.push("  t = at;");
  // All events at the same time share one row: after them, p is the first event after t.
  lines.push("  const from = hi;");
  lines.push("  do p++; while (p < end && ts[p - off] === t);");
  lines.push("  hi = p;");
  // Each window's start moves past the events at or before its bound: about once
  // per row, a varying number of times. Two steps without a branch first (a
  // branch here is mispredicted so often that the loop alone took about 10 ns
  // a row on the flights data), then a loop for the rest. The steps never pass
  // hi - 1: ts[hi - 1] is t, above every bound.
  wins.forEach((_, i) => {
    const step = `lo${i} += +(ts[lo${i} - off] <= b);`;
    lines.push(`  { const b = ${bound(i)}; ${step} ${step} while (lo${i} < hi && ts[lo${i} - off] <= b) lo${i}++; }`);
  });
  dqs.forEach((d, i) => {
    // MonotonicDeque.push then trim: positions in q{i}[h{i}..e{i}) and their values in qv{i}, better-first; null never wins.
    const worse = d.kind === "max" ? "<=" : ">=";
    lines.push(`  for (let j = from; j < hi; j++) { const v = v${i}[j - off]; if (v === v) { while (e${i} > h${i} && qv${i}[e${i} - 1] ${worse} v) e${i}--; q${i}[e${i}] = j; qv${i}[e${i}++] = v; } }`);
    lines.push(`  while (h${i} < e${i} && q${i}[h${i}] < lo${d.window}) h${i}++;`);
  });
  lines.push("  const h = hi - off;");
  lines.push("  outTs[row] = t;");
  const features = featureLines(layout, {
    index: "row",
    hi: "h",
    lo: (w) => `(lo${w} - off)`,
    extreme: (d) => `(h${d} < e${d} ? qv${d}[h${d}] : NaN)`,
    column: (k) => `o${k}`,
    array: (name, field) => `${name}${field}`,
  });
  if (features === undefined) return undefined;
  lines.push(...features.map((l) => `  ${l}`));
  lines.push("  row++;");
  lines.push("}");
  lines.push("cur.hi = hi; cur.t = t;");
  wins.forEach((_, i) => lines.push(`los[${i}] = lo${i};`));
  dqs.forEach((_, i) => lines.push(`if (h${i} === e${i}) { h${i} = 0; e${i} = 0; } dq${i}.head = h${i}; dq${i}.tail = e${i};`));
  lines.push("st.emitPos = p;");
  lines.push("return row;");
  try {
    return new Function("st", "cur", "upTo", "outTs", "out", "n", `${lines.join("\n")}\n//# sourceURL=freshet-generated/emit-kernel.js`) as EmitKernel;
  } catch {
    return undefined;
  }
}

/** The emission of a layout, compiled once per layout; undefined where the read kernel is. */
export const emitKernelOf = perLayout(compileEmitKernel);
