import { describe, expect, it } from "vitest";
import { lazyKeyRows } from "./emittedRows.js";

describe("lazyKeyRows", () => {
  const make = (): { rows: ReturnType<typeof lazyKeyRows>; calls: () => number } => {
    let calls = 0;
    const rows = lazyKeyRows(3, Float64Array.from([1, 2, 3]), [Float64Array.from([10, 20, 30])], (keys) => {
      calls++;
      keys.fill(["a"], 0, 2);
      keys[2] = ["b"];
    });
    return { rows, calls: () => calls };
  };

  it("fills the keys once, when first read, and never when not read", () => {
    const { rows, calls } = make();
    expect(rows.length).toBe(3);
    expect([...(rows.values[0] as Float64Array)]).toEqual([10, 20, 30]);
    expect(calls()).toBe(0);
    expect(rows.keys).toEqual([["a"], ["a"], ["b"]]);
    expect(rows.keys).toBe(rows.keys);
    expect(calls()).toBe(1);
  });

  it("copies with its keys once they are read, and clones without its fill function", () => {
    const { rows } = make();
    expect(Object.keys(rows).sort()).toEqual(["length", "ts", "values"]);
    const copy = { ...rows, keys: rows.keys };
    expect(copy.keys).toEqual([["a"], ["a"], ["b"]]);
    const cloned = structuredClone(rows);
    expect(cloned.length).toBe(3);
    expect([...cloned.ts]).toEqual([1, 2, 3]);
  });
});
