import { describe, expect, it } from "vitest";
import { StringCodes } from "./stringCodes.js";

describe("StringCodes", () => {
  it("gives each distinct string one code, in first-seen order, through slot collisions", () => {
    const codes = new StringCodes();
    // Many strings sharing length, first, middle and last characters collide in the cache.
    const values = ["", "a", "ab", "axb", "ayb", "azb", "axb", "", "ab", ...Array.from({ length: 5000 }, (_, i) => `k${i % 1500}`)];
    const expected = new Map<string, number>();
    for (const v of values) {
      if (!expected.has(v)) expected.set(v, expected.size);
      expect(codes.code(v)).toBe(expected.get(v));
    }
    expect(codes.strings).toEqual([...expected.keys()]);
  });

  it("matches strings by content, not by instance", () => {
    const codes = new StringCodes();
    const a = ["JF", "K"].join("");
    const b = ["J", "FK"].join("");
    expect(codes.code(a)).toBe(0);
    expect(codes.code(b)).toBe(0);
    expect(codes.code("LAX")).toBe(1);
  });
});
