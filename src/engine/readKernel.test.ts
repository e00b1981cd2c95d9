import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kernelTable } from "../../test/helpers/kernelTable.js";
import { KeyState } from "./keyState.js";
import { layoutOf } from "./layout.js";
import { WindowCursor } from "./windowCursor.js";

describe("generated read kernel", () => {
  it("computes exactly what the generic read path computes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.oneof(fc.constant(Number.NaN), fc.double({ min: -1e3, max: 1e3, noNaN: true })), fc.integer({ min: -9, max: 9 })), { maxLength: 80 }),
        fc.array(fc.integer({ min: -50, max: 500 }), { minLength: 1, maxLength: 30 }),
        fc.tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 4 })),
        (events, reads, [w1, w2, hop, hops]) => {
          const table = kernelTable(w1, w2, hop, hops);
          const layout = layoutOf(table.root);
          expect(layout.readKernel).toBeDefined();
          const st = new KeyState("x", ["x"], 0, layout);
          for (const [time, a, b] of events) st.append(time, layout.fields.map((f, i) => ((v) => (layout.squares[i] === true ? v * v : v))(f === "a" ? a : b)));
          const nf = layout.features.length;
          const fast = Array.from({ length: nf }, () => new Float64Array(reads.length));
          const slow = Array.from({ length: nf }, () => new Float64Array(reads.length));
          const c1 = new WindowCursor(layout.windows.length, layout.deques.length);
          const c2 = new WindowCursor(layout.windows.length, layout.deques.length);
          reads.forEach((at, i) => {
            st.readInto(c1, at, fast, i);
            st.readIntoGeneric(c2, at, slow, i);
          });
          expect(fast.map((c) => Array.from(c))).toEqual(slow.map((c) => Array.from(c)));
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});
