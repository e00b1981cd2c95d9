import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readOrder } from "./pointInTimeRead.js";

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
});
