import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kernelEvents, kernelTable } from "../../test/helpers/kernelTable.js";
import { topK } from "../dsl/aggregations.js";
import { KeyState } from "./keyState.js";
import { layoutOf } from "./layout.js";
import { sweepKernelOf } from "./sweepKernel.js";
import { WindowCursor } from "./windowCursor.js";

describe("generated sweep kernel", () => {
  it("reads each time exactly as the generic read path does", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.oneof(fc.constant(Number.NaN), fc.constant(-0), fc.double({ min: -1e3, max: 1e3, noNaN: true })), fc.integer({ min: -9, max: 9 })), { maxLength: 80 }),
        fc.array(fc.integer({ min: -50, max: 500 }), { minLength: 1, maxLength: 30 }),
        fc.tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 4 })),
        fc.tuple(fc.integer({ min: -1, max: 200 }), fc.nat(5)),
        (events, reads, [w1, w2, hop, hops], [horizon, skip]) => {
          const table = kernelTable(w1, w2, hop, hops);
          const layout = layoutOf(table.root);
          const sweep = sweepKernelOf(layout);
          expect(sweep).toBeDefined();
          if (sweep === undefined) return;
          const st = new KeyState("x", ["x"], 0, layout);
          const sorted = events.slice().sort((x, y) => x[0] - y[0]);
          for (const [time, a, b] of sorted) st.append(time, layout.fields.map((f, i) => ((v) => (layout.squares[i] === true ? v * v : v))(f === "a" ? a : b)));
          // Evicted events shift positions from array indices (off, first).
          st.evict(horizon);
          const times = Float64Array.from(reads.filter((r) => r > horizon).sort((x, y) => x - y));
          const from = Math.min(skip, times.length);
          const nf = layout.features.length;
          const swept = Array.from({ length: nf }, () => new Float64Array(times.length));
          const generic = Array.from({ length: nf }, () => new Float64Array(times.length));
          const deques = layout.deques.map(() => new Int32Array(Math.max(1, st.size)));
          // Output rows reversed: read j goes to row n − 1 − j.
          const rows = Uint32Array.from(times, (_, j) => times.length - 1 - j);
          sweep(st, times, from, times.length, rows, swept, deques);
          const cur = WindowCursor.of(layout);
          for (let j = from; j < times.length; j++) st.readIntoGeneric(cur, times[j] as number, generic, j);
          // Object.is: -0 and 0 differ, NaN equals NaN.
          for (let k = 0; k < nf; k++) for (let j = from; j < times.length; j++) expect(Object.is(swept[k]?.[times.length - 1 - j], generic[k]?.[j])).toBe(true);
        },
      ),
      { numRuns: 400, seed: 11 },
    );
  });

  it("is not generated where the read kernel is not (window readers)", () => {
    const table = kernelEvents.groupBy("k").aggregate({ top: topK("k", { k: 3, window: 10 }) }).as("t2");
    expect(sweepKernelOf(layoutOf(table.root))).toBeUndefined();
  });
});
