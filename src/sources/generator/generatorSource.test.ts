import { describe, expect, it } from "vitest";
import { DefinitionError } from "../../errors.js";
import type { RowSource } from "../rowSource.js";
import { generatorSource, mulberry32 } from "./generatorSource.js";

interface Event {
  key: string;
  ts: number;
  value: number;
  [field: string]: unknown;
}

async function collect(source: RowSource): Promise<{ rows: Event[]; sizes: number[] }> {
  const rows: Event[] = [];
  const sizes: number[] = [];
  for await (const batch of source.batches()) {
    sizes.push(batch.length);
    for (const row of batch) rows.push(row as Event);
  }
  return { rows, sizes };
}

const START = Date.UTC(2024, 0, 1);

describe("mulberry32", () => {
  it("is deterministic per seed, in [0, 1), and differs between seeds", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });
});

describe("generatorSource", () => {
  it("describes itself and knows its size", () => {
    const source = generatorSource({ seed: 7, count: 123, keys: 5, start: START });
    expect(source.kind).toBe("generator");
    expect(source.text).toBe(false);
    expect(source.size).toBe(123);
    expect(source.description).toBe("generator(seed=7, count=123, keys=5)");
  });

  it("yields count rows of { key, ts, value } in batches, starting at start", async () => {
    const { rows, sizes } = await collect(generatorSource({ seed: 1, count: 2500, keys: 10, start: new Date(START), batchSize: 1000 }));
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(rows).toHaveLength(2500);
    expect(rows[0]?.ts).toBe(START);
    const misfits = rows.filter(
      (row) =>
        Object.keys(row).join() !== "key,ts,value" ||
        !/^k[0-9]$/.test(row.key) ||
        !Number.isInteger(row.ts) ||
        !(row.value >= 0 && row.value < 100),
    );
    expect(misfits).toEqual([]);
  });

  it("gives the same rows for the same seed, on every iteration, and different rows for another seed", async () => {
    const options = { seed: 99, count: 500, keys: 20, start: START, disorder: 50 };
    const source = generatorSource(options);
    const first = (await collect(source)).rows;
    expect((await collect(source)).rows).toEqual(first);
    expect((await collect(generatorSource(options))).rows).toEqual(first);
    // Batch size changes the grouping only, never the rows.
    expect((await collect(generatorSource({ ...options, batchSize: 7 }))).rows).toEqual(first);
    expect((await collect(generatorSource({ ...options, seed: 100 }))).rows).not.toEqual(first);
  });

  it("keeps ts nondecreasing at roughly eventsPerSecond", async () => {
    const count = 20_000;
    const { rows } = await collect(generatorSource({ seed: 3, count, keys: 4, start: START, eventsPerSecond: 500 }));
    const firstDecrease = rows.findIndex((r, i) => i > 0 && r.ts < (rows[i - 1] as Event).ts);
    expect(firstDecrease).toBe(-1);
    // 20,000 events at 500/s span about 40 s; Poisson noise is well under 5%.
    const span = (rows[count - 1] as Event).ts - START;
    expect(span).toBeGreaterThan(38_000);
    expect(span).toBeLessThan(42_000);
  });

  it("uses the default rate of 1000 events per second", async () => {
    const { rows } = await collect(generatorSource({ seed: 5, count: 10_000, keys: 1, start: START }));
    const span = (rows[9_999] as Event).ts - START;
    expect(span).toBeGreaterThan(9_500);
    expect(span).toBeLessThan(10_500);
  });

  it("picks keys uniformly", async () => {
    const keys = 8;
    const { rows } = await collect(generatorSource({ seed: 11, count: 40_000, keys, start: START }));
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.key, (counts.get(r.key) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(Array.from({ length: keys }, (_, i) => `k${i}`));
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(4500);
      expect(n).toBeLessThan(5500);
    }
  });

  it("with disorder, moves ts back by at most disorder behind the newest ts so far", async () => {
    const disorder = 200;
    const { rows } = await collect(generatorSource({ seed: 21, count: 5000, keys: 3, start: START, eventsPerSecond: 100, disorder }));
    let newest = -Infinity;
    let outOfOrder = 0;
    let maxBehind = 0;
    for (const r of rows) {
      if (r.ts < newest) {
        outOfOrder++;
        maxBehind = Math.max(maxBehind, newest - r.ts);
      }
      newest = Math.max(newest, r.ts);
    }
    expect(outOfOrder).toBeGreaterThan(500);
    expect(maxBehind).toBeGreaterThan(100);
    expect(maxBehind).toBeLessThanOrEqual(disorder);
  });

  it("fills extra fields from their specs", async () => {
    const { rows } = await collect(
      generatorSource({
        seed: 2,
        count: 2000,
        keys: 2,
        start: START,
        fields: {
          amount: { kind: "float", min: 10, max: 20 },
          qty: { kind: "int", min: 1, max: 3 },
          country: { kind: "choice", values: ["DE", "FR"] },
          fraud: { kind: "bool", probability: 0.1 },
        },
      }),
    );
    expect(Object.keys(rows[0] as Event)).toEqual(["key", "ts", "value", "amount", "qty", "country", "fraud"]);
    const qtys = new Set(rows.map((r) => r.qty));
    expect([...qtys].sort()).toEqual([1, 2, 3]);
    expect(new Set(rows.map((r) => r.country))).toEqual(new Set(["DE", "FR"]));
    expect(rows.every((r) => typeof r.amount === "number" && r.amount >= 10 && r.amount < 20)).toBe(true);
    const frauds = rows.filter((r) => r.fraud === true).length;
    expect(frauds).toBeGreaterThan(120);
    expect(frauds).toBeLessThan(280);
  });

  it("yields nothing for count 0", async () => {
    const { rows, sizes } = await collect(generatorSource({ seed: 1, count: 0, keys: 1, start: START }));
    expect(rows).toEqual([]);
    expect(sizes).toEqual([]);
  });

  it("rejects invalid options", () => {
    const base = { seed: 1, count: 10, keys: 2, start: START };
    expect(() => generatorSource({ ...base, count: -1 })).toThrow(DefinitionError);
    expect(() => generatorSource({ ...base, keys: 0 })).toThrow("keys must be an integer >= 1, got 0");
    expect(() => generatorSource({ ...base, start: new Date("nope") })).toThrow("start must be a valid Date");
    expect(() => generatorSource({ ...base, eventsPerSecond: 0 })).toThrow("eventsPerSecond must be a positive number");
    expect(() => generatorSource({ ...base, disorder: -5 })).toThrow("disorder must be an integer >= 0");
    expect(() => generatorSource({ ...base, batchSize: 0 })).toThrow("batchSize must be an integer >= 1");
    expect(() => generatorSource({ ...base, fields: { ts: { kind: "bool" } } })).toThrow('field "ts" is always generated');
    expect(() => generatorSource({ ...base, fields: { c: { kind: "choice", values: [] } } })).toThrow("values must not be empty");
    expect(() => generatorSource({ ...base, fields: { q: { kind: "int", min: 3, max: 1 } } })).toThrow("min <= max");
  });
});
