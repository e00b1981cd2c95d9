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

  it("keeps whole numbers and times of a few weeks in half the bytes", () => {
    const log = new ColumnLog({ n: t.float(), at: t.timestamp() });
    const rows = Array.from({ length: 1000 }, (_, i) => ({ n: i - 500, at: 1_700_000_000_000 + i * 60_000 }));
    log.append(rows, Float64Array.from(rows, (r) => r.at));
    const chunk = (log as unknown as { chunks: Array<{ cols: ArrayLike<number>[]; ts: Float64Array | undefined }> }).chunks[0];
    expect(chunk?.cols.map((c) => c.constructor.name)).toEqual(["Int32Array", "Int32Array"]);
    expect(chunk?.ts).toBeUndefined(); // the times are the at column's
    expect(log.toBatch().rows[999]).toEqual({ n: 499, at: 1_700_000_000_000 + 999 * 60_000 });
  });
});
