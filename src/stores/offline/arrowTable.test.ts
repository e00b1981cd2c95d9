import { describe, expect, it } from "vitest";
import { rowsToArrow } from "./arrowTable.js";

describe("rowsToArrow", () => {
  it("types columns from their values and keeps nulls", () => {
    const t = rowsToArrow([
      { user: "ann", n: 2, ok: true, top: [1, 2] },
      { user: "bob", n: null, ok: false, top: null },
      { user: null, n: Number.NaN, ok: null },
    ]);
    expect(t.numRows).toBe(3);
    expect(t.schema.fields.map((f) => [f.name, String(f.type)])).toEqual([
      ["user", "Utf8"],
      ["n", "Float64"],
      ["ok", "Bool"],
      ["top", "Utf8"],
    ]);
    expect(t.toArray().map((r) => r.toJSON())).toEqual([
      { user: "ann", n: 2, ok: true, top: "[1,2]" },
      { user: "bob", n: null, ok: false, top: null },
      { user: null, n: null, ok: null, top: null },
    ]);
  });
});
