import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kernelTable, shiftPositions } from "../../test/helpers/kernelTable.js";
import { AggregateOperator } from "../engine/aggregateOperator.js";
import { KERNEL_MAX_POSITION } from "../engine/readKernel.js";
import { readOrder, readPointInTime } from "./pointInTimeRead.js";

/** The order readOrder promises: by slot, then time, then input position. */
function reference(slots: Uint32Array, times: Float64Array): number[] {
  return Array.from(slots, (_, i) => i).sort((a, b) => (slots[a] as number) - (slots[b] as number) || (times[a] as number) - (times[b] as number) || a - b);
}

describe("readOrder", () => {
  // Above the comparison-sort threshold (2,048 rows), so the radix passes run.
  const rows = (span: number) =>
    fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 2_048, max: 6_000 }), fc.integer()).map(([slotCount, n, seed]) => {
      let x = seed >>> 0;
      const next = (): number => {
        // xorshift32: cheap seeded values for thousands of rows per case
        x ^= x << 13;
        x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        return x / 2 ** 32;
      };
      const slots = Uint32Array.from({ length: n }, () => Math.floor(next() * slotCount));
      // Few distinct times, so ties are common; offset from a large base like epoch ms.
      const times = Float64Array.from({ length: n }, () => 1.7e12 + Math.floor(next() * 50) * Math.floor(span / 50));
      return { slots, slotCount, times };
    });

  it("sorts by slot, time and input position (times over about a year: 3 digit passes)", () => {
    fc.assert(
      fc.property(rows(3e10), ({ slots, slotCount, times }) => {
        expect(Array.from(readOrder(slots, slotCount, times))).toEqual(reference(slots, times));
      }),
      { numRuns: 40, seed: 5 },
    );
  });

  it("sorts the same over a 2^50 ms range (4 digit passes)", () => {
    fc.assert(
      fc.property(rows(2 ** 50), ({ slots, slotCount, times }) => {
        expect(Array.from(readOrder(slots, slotCount, times))).toEqual(reference(slots, times));
      }),
      { numRuns: 20, seed: 6 },
    );
  });

  it("sorts small or fractional inputs by comparison", () => {
    const slots = Uint32Array.from([1, 0, 1, 0, 1]);
    const times = Float64Array.from([2.5, 3, 1.5, 3, 2.5]);
    expect(Array.from(readOrder(slots, 2, times))).toEqual([1, 3, 2, 0, 4]);
  });

  it("reads keys past 2^31 - 1 events one time at a time, with the values the sweep gives younger keys", () => {
    // The sweep keeps positions in int32; a key that old must not wrap them.
    const table = kernelTable(7, 30, 5, 3);
    const spec = { keys: table.root.keys, aggregations: table.root.aggregations };
    const events = Array.from({ length: 300 }, (_, i) => ({ k: `k${i % 3}`, a: i % 7 === 0 ? null : (i * 37) % 101, b: (i * 13) % 17, ts: 1000 + Math.floor(i / 2) * 3 }));
    const reads = Array.from({ length: 200 }, (_, i) => ({ k: `k${(i * 7) % 4}` }));
    const times = Float64Array.from(reads, (_, i) => 990 + ((i * 53) % 480));
    const read = (shift: number): unknown[][] => {
      const op = new AggregateOperator("t", spec);
      op.process(events, Float64Array.from(events, (e) => e.ts), false);
      shiftPositions(op.states.values(), shift);
      return readPointInTime(op, "t", reads, times, false).columns.map((c) => Array.from(c));
    };
    const near = read(0);
    const far = read(KERNEL_MAX_POSITION);
    expect(near[0]?.some((v) => typeof v === "number" && v > 0)).toBe(true);
    near.forEach((col, k) => col.forEach((v, j) => expect(Object.is(far[k]?.[j], v)).toBe(true)));
  });
});
