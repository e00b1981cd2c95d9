import { describe, expect, it } from "vitest";
import { t } from "../core/schema.js";
import { SchemaError, TimestampError } from "../errors.js";
import type { Row, SourceDef } from "../plan/nodes.js";
import { RowParser } from "./rowParser.js";
import { StreamDecodeFailure } from "./stream/streamSource.js";

const def: SourceDef = {
  name: "trips",
  schema: { id: t.string(), fare: t.float(), n: t.int(), at: t.timestamp(), note: t.string().optional() },
  timestamp: "at",
  keys: [],
  lateness: 0,
};

/** Every item through parseRun, restarting after each one it stops at (as parseSource does). */
function runAll(parser: RowParser, items: readonly unknown[]): { rows: Row[]; ts: number[]; stops: number[] } {
  const rows: Row[] = [];
  const ts = new Float64Array(items.length);
  const stops: number[] = [];
  let i = 0;
  while (i < items.length) {
    const stop = parser.parseRun(items, i, items.length, rows, ts, rows.length);
    i = stop;
    if (i < items.length) stops.push(i++);
  }
  return { rows, ts: [...ts.subarray(0, rows.length)], stops };
}

describe("RowParser.parseRun", () => {
  const parser = new RowParser(def);

  it("parses a run of rows as parseAt does: typed rows kept as they are, others converted, event times beside", () => {
    const typed = { id: "a", fare: 1.5, n: 2, at: 1_000, note: "x", extra: true };
    const items = [typed, { id: "b", fare: 2, n: 3n, at: "1970-01-01T00:00:02Z" }, { id: "c", fare: -0.5, n: 0, at: new Date(3_000), note: null }];
    const { rows, ts, stops } = runAll(parser, items);
    expect(stops).toEqual([]);
    expect(rows[0]).toBe(typed);
    expect(rows).toEqual(items.map((it, i) => parser.parseAt(it, i + 1)));
    expect(rows[1]).toEqual({ id: "b", fare: 2, n: 3, at: 2_000, note: null });
    expect(ts).toEqual([1_000, 2_000, 3_000]);
  });

  it("stops at each item that does not parse, and parseAt says why", () => {
    const items: unknown[] = [
      { id: "a", fare: 1, n: 1, at: 1_000 },
      { id: "b", fare: "lots", n: 1, at: 2_000 },
      null,
      [1, 2, 3],
      new StreamDecodeFailure("payload is not JSON", "{oops", "seq 7"),
      { id: "c", fare: 1, n: 1.5, at: 3_000 },
      { id: "d", fare: 1, n: 1, at: "yesterday" },
      { id: "e", fare: 1, n: 1, at: 4_000 },
    ];
    const { rows, ts, stops } = runAll(parser, items);
    expect(stops).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rows.map((r) => r.id)).toEqual(["a", "e"]);
    expect(ts).toEqual([1_000, 4_000]);
    expect(() => parser.parseAt(items[1], 2)).toThrow(SchemaError);
    expect(() => parser.parseAt(items[1], 2)).toThrow(/field "fare" must be a finite number/);
    expect(() => parser.parseAt(items[4], 5)).toThrow(/message at seq 7: payload is not JSON/);
    expect(() => parser.parseAt(items[5], 6)).toThrow(/field "n" must be an integer/);
    expect(() => parser.parseAt(items[6], 7)).toThrow(TimestampError);
  });

  it("parses items from..end into the given output position and returns end", () => {
    const rows: Row[] = [{ id: "before" }];
    const ts = new Float64Array(3);
    const items = [{ id: "x", fare: 1, n: 1, at: 5 }, { id: "y", fare: 1, n: 1, at: 6 }, { id: "z", fare: 1, n: 1, at: 7 }, { id: "bad" }];
    expect(parser.parseRun(items, 1, 3, rows, ts, 1)).toBe(3);
    expect(rows.map((r) => r.id)).toEqual(["before", "y", "z"]);
    expect([...ts]).toEqual([0, 6, 7]);
  });

  it("takes a valid Date as its epoch milliseconds and stops at an invalid one", () => {
    const items = [{ id: "a", fare: 1, n: 1, at: new Date(Date.UTC(2001, 0, 1)) }, { id: "b", fare: 1, n: 1, at: new Date(Number.NaN) }, { id: "c", fare: 1, n: 1, at: new Date(-5) }];
    const { rows, ts, stops } = runAll(parser, items);
    expect(stops).toEqual([1]);
    expect(ts).toEqual([978_307_200_000, -5]);
    expect(rows.map((r) => r.at)).toEqual([978_307_200_000, -5]);
    expect(() => parser.parseAt(items[1], 2)).toThrow(/field "at" is not a readable timestamp/);
  });

  it("keeps a field named __proto__ as a field of a converted row", () => {
    const odd = new RowParser({ ...def, schema: { ["__proto__"]: t.string(), at: t.timestamp() } });
    const item = JSON.parse('{"__proto__": "x", "at": "1970-01-01T00:00:00.001Z"}') as Row;
    for (const row of [runAll(odd, [item]).rows[0] as Row, odd.parseAt(item, 1)]) {
      expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(row, "__proto__")?.value).toBe("x");
      expect(row.at).toBe(1);
    }
  });

  it("works the same without generated code", () => {
    const interpreted = new RowParser(def);
    // The interpreted fallback is what parseRun uses where new Function is refused.
    (interpreted as unknown as { run: unknown }).run = (items: readonly unknown[], from: number, end: number, rows: Row[], ts: Float64Array, at: number): number =>
      (interpreted as unknown as { interpretedRun: (...a: unknown[]) => number }).interpretedRun(items, from, end, rows, ts, at);
    const items = [{ id: "a", fare: 1, n: 1, at: 1 }, { id: "b", fare: "no", n: 1, at: 2 }, { id: "c", fare: 2, n: 2, at: "1970-01-01T00:00:00.003Z" }];
    const a = runAll(interpreted, items);
    const b = runAll(parser, items);
    expect(a).toEqual(b);
    expect(a.stops).toEqual([1]);
  });
});
