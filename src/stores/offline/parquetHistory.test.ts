import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { t, type Row } from "../../core/schema.js";
import { ParquetHistory } from "./parquetHistory.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("ParquetHistory", () => {
  it("reads back every field of every row from its parts, nulls as null, a field named __proto__ as a field", async () => {
    const dir = await mkdtemp(join(tmpdir(), "freshet-parquet-history-"));
    dirs.push(dir);
    const schema = { k: t.string(), ["__proto__"]: t.string().optional(), n: t.float().optional(), ok: t.bool().optional(), at: t.timestamp() };
    const row = (k: string, odd: string | null, n: number | null, ok: boolean | null, at: number): Row => {
      const r: Row = { k };
      Object.defineProperty(r, "__proto__", { value: odd, enumerable: true, writable: true, configurable: true });
      Object.assign(r, { n, ok, at });
      return r;
    };
    const first = [row("a", "x", 1.5, true, 1000), row("b", null, null, null, 2000)];
    const second = [row("c", "y", -3, false, 3000)];
    const writer = new ParquetHistory(dir);
    const defs = new Map([["ev", { schema, timestamp: "at" }]]);
    writer.append("ev", schema, first, Float64Array.of(1000, 2000));
    await writer.flush(defs);
    writer.append("ev", schema, second, Float64Array.of(3000));
    await writer.flush(defs);
    const back = await new ParquetHistory(dir).scan("ev", schema, "at");
    expect(Array.from(back.ts)).toEqual([1000, 2000, 3000]);
    const plain = (r: Row): Array<[string, unknown]> => Object.keys(r).map((k) => [k, Object.getOwnPropertyDescriptor(r, k)?.value]);
    expect(back.rows.map(plain)).toEqual([...first, ...second].map(plain));
    for (const r of back.rows) expect(Object.getPrototypeOf(r)).toBe(Object.prototype);
  });
});
