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
    // Batch by batch: each part's row groups, then what is not flushed yet.
    const reader = new ParquetHistory(dir);
    reader.append("ev", schema, [row("d", null, 4, true, 4000)], Float64Array.of(4000));
    const batches: Row[][] = [];
    for await (const b of reader.batches("ev", schema, "at")) batches.push([...b.rows]);
    expect(batches.map((b) => b.map((r) => r.k))).toEqual([["a", "b"], ["c"], ["d"]]);
    expect(batches.flat().map(plain)).toEqual([...first, ...second, row("d", null, 4, true, 4000)].map(plain));
  });

  it("reads a part's row groups one by one, each with exactly its rows", async () => {
    const dir = await mkdtemp(join(tmpdir(), "freshet-parquet-history-"));
    dirs.push(dir);
    const schema = { k: t.string(), n: t.float().optional(), at: t.timestamp() };
    const rows: Row[] = Array.from({ length: 2500 }, (_, i) => ({ k: `k${i % 7}`, n: i % 11 === 0 ? null : i / 4, at: 1_000_000 + i }));
    const writer = new ParquetHistory(dir);
    writer.append("ev", schema, rows, Float64Array.from(rows, (r) => r.at as number));
    await writer.flush(new Map([["ev", { schema, timestamp: "at" }]]));
    const reader = new ParquetHistory(dir);
    const sizes: number[] = [];
    const got: Row[] = [];
    const ts: number[] = [];
    for await (const b of reader.batches("ev", schema, "at")) {
      sizes.push(b.rows.length);
      got.push(...b.rows);
      ts.push(...b.ts);
    }
    // hyparquet-writer's row groups: 1,000 rows, then up to 100,000.
    expect(sizes).toEqual([1000, 1500]);
    expect(got).toEqual(rows);
    expect(ts).toEqual(rows.map((r) => r.at));
    expect(got).toEqual((await reader.scan("ev", schema, "at")).rows);
  });
});
