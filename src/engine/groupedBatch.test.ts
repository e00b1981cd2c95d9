import { describe, expect, it } from "vitest";
import { GroupedBatch } from "./groupedBatch.js";

describe("GroupedBatch.place", () => {
  // Events of groups 1, 0, 1, 2, 0: group 0 first (2 events), then 1 (2), then 2 (1).
  const group = Int32Array.from([1, 0, 1, 2, 0]);
  const ts = Float64Array.from([10, 11, 12, 13, 14]);
  const starts = (): Int32Array => Int32Array.from([0, 2, 4]);

  it("puts each group's events together, in batch order, and leaves each group's end in `at`", () => {
    const at = starts();
    const out = new GroupedBatch().place(5, group, at, ts, [Float64Array.from([1, 2, 3, 4, 5])]);
    expect([...out.ts.subarray(0, 5)]).toEqual([11, 14, 10, 12, 13]);
    expect([...(out.cols[0] as Float64Array).subarray(0, 5)]).toEqual([2, 5, 1, 3, 4]);
    expect([...at]).toEqual([2, 4, 5]);
  });

  it("does the same for several fields, and only the first n events", () => {
    const at = starts();
    const a = Float64Array.from([1, 2, 3, 4, 5, 99]);
    const b = Float64Array.from([-1, -2, -3, -4, -5, 99]);
    const out = new GroupedBatch().place(5, Int32Array.from([...group, 0]), at, Float64Array.from([...ts, 99]), [a, b]);
    expect([...(out.cols[0] as Float64Array).subarray(0, 5)]).toEqual([2, 5, 1, 3, 4]);
    expect([...(out.cols[1] as Float64Array).subarray(0, 5)]).toEqual([-2, -5, -1, -3, -4]);
    expect([...at]).toEqual([2, 4, 5]);
  });
});
