import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { t } from "../../core/schema.js";
import type { Row } from "../../core/schema.js";
import { ColumnLog } from "./columnLog.js";

const schema = { k: t.string(), n: t.float().optional(), flag: t.bool().optional(), at: t.timestamp(), other: t.timestamp().optional() };

/** Numbers of every kind the encoding must keep: whole, fractional, −0, huge, near the Int32 edges, null. */
const number = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.constantFrom(-0, 0.5, 2147483647, -2147483647, 2147483648, -2147483648, 1e15, Number.MAX_SAFE_INTEGER),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  fc.constant(null),
);
const time = fc.oneof(fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_000 + 40 * 86_400_000 }), fc.double({ min: 1.7e12, max: 1.8e12, noNaN: true }));
const row = fc.record({ k: fc.constantFrom("a", "b", "c"), n: number, flag: fc.oneof(fc.boolean(), fc.constant(null)), at: time, other: fc.oneof(time, fc.constant(null)) });

describe("ColumnLog", () => {
  it("gives back every value exactly (Object.is), in order, whatever each batch's numbers are", () => {
    fc.assert(
      fc.property(fc.array(fc.array(row, { maxLength: 40 }), { maxLength: 8 }), (batches) => {
        const log = new ColumnLog(schema);
        for (const b of batches) log.append(b as Row[], Float64Array.from(b, (r) => r.at));
        const all = batches.flat();
        const back = log.toBatch();
        expect(back.rows.length).toBe(all.length);
        all.forEach((r, i) => {
          const got = back.rows[i] as Row;
          for (const f of Object.keys(schema)) expect(Object.is(got[f], (r as Row)[f])).toBe(true);
          expect(Object.is(back.ts[i], r.at)).toBe(true);
        });
        expect(log.column("n").every((v, i) => Object.is(v, all[i]?.n))).toBe(true);
      }),
      { numRuns: 300, seed: 20261203 },
    );
  });

  it("gives the same rows batch by batch, in slices, as of the call", () => {
    const log = new ColumnLog(schema);
    const at = (i: number): number => 1_700_000_000_000 + i * 1000;
    const batch = (from: number, n: number): Row[] => Array.from({ length: n }, (_, i) => ({ k: "abc"[(from + i) % 3], n: from + i, flag: null, at: at(from + i), other: null }));
    log.append(batch(0, 10), Float64Array.from({ length: 10 }, (_, i) => at(i)), { arrival: 3, lateFor: { t: 5 } });
    // Event times that are no field's values: kept beside the columns.
    log.append(batch(10, 5), Float64Array.from({ length: 5 }, (_, i) => i));
    const slices = log.batches(undefined, 4);
    log.append(batch(15, 3), new Float64Array(3));
    const got = [...slices];
    expect(got.map((b) => b.rows.length)).toEqual([4, 4, 2, 4, 1]);
    const whole = log.toBatch();
    expect(got.flatMap((b) => b.rows)).toEqual(whole.rows.slice(0, 15));
    expect(got.flatMap((b) => [...b.ts])).toEqual([...whole.ts.subarray(0, 15)]);
    expect(got.map((b) => (b.arrivals === undefined ? 0 : b.arrivals[0]))).toEqual([3, 3, 3, 0, 0]);
    expect(got.map((b) => b.lateFor?.get(3))).toEqual([{ t: 5 }, { t: 5 }, { t: 5 }, undefined, undefined]);
  });

  it("gives a field named __proto__ back as a field, not as the row's prototype", () => {
    const odd = { ["__proto__"]: t.string(), at: t.timestamp() };
    const log = new ColumnLog(odd);
    const r: Row = { at: 5 };
    Object.defineProperty(r, "__proto__", { value: "x", enumerable: true, writable: true, configurable: true });
    log.append([r], Float64Array.of(5));
    const back = log.toBatch().rows[0] as Row;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(["__proto__", "at"]);
    expect(Object.getOwnPropertyDescriptor(back, "__proto__")?.value).toBe("x");
  });

  /** The typed array kinds of each chunk's columns. */
  const kinds = (log: ColumnLog): string[][] =>
    (log as unknown as { chunks: Array<{ cols: ArrayLike<number>[] }> }).chunks.map((ch) => ch.cols.map((c) => c.constructor.name));

  it("keeps times of a few weeks in half the bytes, and small whole numbers in a quarter", () => {
    const log = new ColumnLog({ n: t.float(), big: t.int(), at: t.timestamp() });
    const rows = Array.from({ length: 1000 }, (_, i) => ({ n: i - 500, big: i * 100_000, at: 1_700_000_000_000 + i * 60_000 }));
    log.append(rows, Float64Array.from(rows, (r) => r.at));
    expect(kinds(log)).toEqual([["Int16Array", "Int32Array", "Int32Array"]]);
    const chunk = (log as unknown as { chunks: Array<{ ts: Float64Array | undefined }> }).chunks[0];
    expect(chunk?.ts).toBeUndefined(); // the times are the at column's
    expect(log.toBatch().rows[999]).toEqual({ n: 499, big: 99_900_000, at: 1_700_000_000_000 + 999 * 60_000 });
    expect(log.toBatch().rows[0]).toEqual({ n: -500, big: 0, at: 1_700_000_000_000 });
  });

  it("keeps a column with nulls, or past the Int16 range, in Int32s", () => {
    const log = new ColumnLog({ n: t.float().optional(), at: t.timestamp() });
    log.append([{ n: 1, at: 1 }, { n: null, at: 2 }], Float64Array.from([1, 2]));
    log.append([{ n: -32768, at: 3 }, { n: 32767, at: 4 }], Float64Array.from([3, 4]));
    log.append([{ n: 32768, at: 5 }], Float64Array.from([5]));
    expect(kinds(log).map((k) => k[0])).toEqual(["Int32Array", "Int16Array", "Int32Array"]);
    expect(log.column("n")).toEqual([1, null, -32768, 32767, 32768]);
  });

  it("codes strings in Int16s until the dictionary outgrows them, then in Int32s", () => {
    const log = new ColumnLog({ s: t.string().optional(), at: t.timestamp() });
    const first = [{ s: "a", at: 1 }, { s: null, at: 2 }];
    const many = Array.from({ length: 40_000 }, (_, i) => ({ s: `s${i}`, at: 3 + i }));
    const after = [{ s: "a", at: 50_000 }];
    for (const b of [first, many, after]) log.append(b, Float64Array.from(b, (r) => r.at));
    // Decided from the dictionary's size, not by a pass over the codes: after it outgrew Int16, even a batch of code 0 is Int32.
    expect(kinds(log).map((k) => k[0])).toEqual(["Int16Array", "Int32Array", "Int32Array"]);
    expect(log.column("s")).toEqual(["a", null, ...many.map((r) => r.s), "a"]);
  });
});
