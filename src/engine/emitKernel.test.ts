import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kernelEvents, kernelTable, shiftPositions } from "../../test/helpers/kernelTable.js";
import { topK } from "../dsl/aggregations.js";
import { AggregateOperator } from "./aggregateOperator.js";
import { emitKernelOf } from "./emitKernel.js";
import type { EmittedRows } from "./emittedRows.js";
import { KeyState } from "./keyState.js";
import { layoutOf } from "./layout.js";
import { KERNEL_MAX_POSITION } from "./readKernel.js";
import { WindowCursor } from "./windowCursor.js";

const event = fc.tuple(fc.integer({ min: 0, max: 400 }), fc.oneof(fc.constant(Number.NaN), fc.constant(-0), fc.double({ min: -1e3, max: 1e3, noNaN: true })), fc.integer({ min: -9, max: 9 }));

describe("generated emit kernel", () => {
  it("emits each pending time exactly as a read from scratch at that time, across batches, evictions and inserts", () => {
    fc.assert(
      fc.property(
        // Steps: events appended (in any order: inserts too), an eviction horizon, then an emission up to a time.
        fc.array(fc.tuple(fc.array(event, { maxLength: 25 }), fc.integer({ min: -1, max: 400 }), fc.integer({ min: 0, max: 450 })), { minLength: 1, maxLength: 8 }),
        fc.tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 4 })),
        (steps, [w1, w2, hop, hops]) => {
          const table = kernelTable(w1, w2, hop, hops);
          const layout = layoutOf(table.root);
          const kernel = emitKernelOf(layout);
          expect(kernel).toBeDefined();
          if (kernel === undefined) return;
          const nf = layout.features.length;
          // The same events go to two states: one emitted by the kernel, one read time by time.
          const fast = new KeyState("x", ["x"], 0, layout);
          const slow = new KeyState("x", ["x"], 0, layout);
          // Registered as the emit cursor: evictions and inserts move or reset it.
          const fastCur = (fast.emitCursor = WindowCursor.of(layout));
          for (const [events, horizon, upTo] of steps) {
            for (const st of [fast, slow]) {
              st.evict(horizon);
              for (const [time, a, b] of events) st.append(time, layout.fields.map((f, i) => ((v) => (layout.squares[i] === true ? v * v : v))(f === "a" ? a : b)));
            }
            const cap = fast.end - fast.first + 2;
            const got = Array.from({ length: nf }, () => new Float64Array(cap));
            const gotTs = new Float64Array(cap);
            // Rows start at index 2: the kernel writes from the index it is given.
            const n = kernel(fast, fastCur, upTo, gotTs, got, 2) - 2;
            const want = Array.from({ length: nf }, () => new Float64Array(cap));
            const wantTs: number[] = [];
            let p = Math.max(slow.emitPos, slow.first);
            while (p < slow.end && slow.timeAt(p) < upTo) {
              const at = slow.timeAt(p);
              while (p < slow.end && slow.timeAt(p) === at) p++;
              // A new cursor per read: each time read from scratch over the events kept.
              slow.readIntoGeneric(WindowCursor.of(layout), at, want, wantTs.length);
              wantTs.push(at);
            }
            slow.emitPos = p;
            expect(fast.emitPos).toBe(slow.emitPos);
            expect(Array.from(gotTs.subarray(2, 2 + n))).toEqual(wantTs);
            // Object.is: -0 and 0 differ, NaN equals NaN.
            for (let k = 0; k < nf; k++) for (let j = 0; j < n; j++) expect(Object.is(got[k]?.[2 + j], want[k]?.[j])).toBe(true);
          }
        },
      ),
      { numRuns: 400, seed: 13 },
    );
  });

  it("leaves keys past 2^31 - 1 events to the generic path, with the same rows", () => {
    // The kernel keeps positions in int32; a key that old must not wrap them.
    const table = kernelTable(7, 30, 5, 3);
    const spec = { keys: table.root.keys, aggregations: table.root.aggregations };
    const rows = Array.from({ length: 200 }, (_, i) => ({ k: `k${i % 3}`, a: i % 7 === 0 ? null : (i * 37) % 101, b: (i * 13) % 17, ts: 1000 + Math.floor(i / 2) * 3 }));
    const emitted = (shift: number): EmittedRows[] => {
      const op = new AggregateOperator("t", spec);
      op.process(rows, Float64Array.from(rows, (r) => r.ts), true);
      shiftPositions(op.states.values(), shift);
      const out: EmittedRows[] = [];
      op.emit(Number.POSITIVE_INFINITY, (r) => out.push(r));
      return out;
    };
    const shift = KERNEL_MAX_POSITION;
    const [near] = emitted(0);
    const [far] = emitted(shift);
    expect(near?.length).toBe(new Set(rows.map((r) => `${r.k}@${r.ts}`)).size);
    expect(far?.length).toBe(near?.length);
    expect(Array.from(far?.ts ?? [])).toEqual(Array.from(near?.ts ?? []));
    expect(far?.keys).toEqual(near?.keys);
    far?.values.forEach((col, k) => {
      for (let j = 0; j < (far?.length ?? 0); j++) expect(Object.is(col[j], near?.values[k]?.[j])).toBe(true);
    });
  });

  it("is not generated where the read kernel is not (window readers)", () => {
    const table = kernelEvents.groupBy("k").aggregate({ top: topK("k", { k: 3, window: 10 }) }).as("t2");
    expect(emitKernelOf(layoutOf(table.root))).toBeUndefined();
  });
});
