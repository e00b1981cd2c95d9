/**
 * The cases every table history store passes (memory, Parquet + DuckDB,
 * PostgreSQL), defined once and run per implementation by
 * test/tableHistories.test.ts.
 *
 * Each case uses tables of its own, so a suite may run against a store that
 * keeps data between cases (a directory, a PostgreSQL schema).
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Row } from "../src/core/schema.js";
import { DefinitionError, FreshetError, RequestError, SchemaError, StorageError, UnknownTableError } from "../src/errors.js";
import type { TableColumns, TableHistoryBatch, TableHistoryQuery, TableHistoryStore } from "../src/stores/offline/tableHistoryStore.js";

const T = 1_700_000_000_000;

/** Awaits `p` and returns what it rejected with; fails the test when it resolves. */
async function rejection(p: Promise<unknown>): Promise<FreshetError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FreshetError) return e;
    throw e;
  }
  throw new Error("expected a rejection, but the call succeeded");
}

const NUMERIC = new Set(["number", "float", "int", "timestamp", "double"]);

/**
 * A batch from row objects (key fields, "ts", features), shaped as the engine
 * emits it: number features in Float64Arrays with NaN for null, others as
 * plain arrays.
 */
export function batchOf(columns: TableColumns, rows: readonly Row[]): TableHistoryBatch {
  return {
    length: rows.length,
    keys: rows.map((r) => columns.keys.map((c) => r[c.name])),
    ts: Float64Array.from(rows, (r) => r["ts"] as number),
    values: columns.features.map((c) =>
      NUMERIC.has(c.type) ? Float64Array.from(rows, (r) => (typeof r[c.name] === "number" ? (r[c.name] as number) : Number.NaN)) : rows.map((r) => r[c.name]),
    ),
  };
}

/** What a store reads back for an appended row: key fields, ts, features; null for NaN/missing; JSON values through JSON. */
function expectedRow(columns: TableColumns, r: Row): Row {
  const out: Row = {};
  for (const c of columns.keys) out[c.name] = r[c.name];
  out["ts"] = r["ts"];
  for (const c of columns.features) {
    const v = r[c.name];
    if (v === undefined || v === null || (typeof v === "number" && Number.isNaN(v))) out[c.name] = null;
    else if (NUMERIC.has(c.type) || c.type === "string" || c.type === "bool") out[c.name] = v;
    else out[c.name] = JSON.parse(JSON.stringify(v)) as unknown;
  }
  return out;
}

/** The reference answer: filter the appended rows directly, then a stable sort by ts. */
function expectedQuery(columns: TableColumns, appended: readonly Row[], q: TableHistoryQuery = {}): Row[] {
  const wanted = q.keys === undefined ? undefined : new Set(q.keys.map((k) => JSON.stringify(k)));
  return appended
    .filter((r) => (q.start === undefined || (r["ts"] as number) >= q.start) && (q.end === undefined || (r["ts"] as number) < q.end))
    .filter((r) => wanted === undefined || wanted.has(JSON.stringify(columns.keys.map((c) => r[c.name]))))
    .sort((a, b) => (a["ts"] as number) - (b["ts"] as number))
    .map((r) => expectedRow(columns, r));
}

const allTypes: TableColumns = {
  keys: [
    { name: "user", type: "string" },
    { name: "n", type: "int" },
  ],
  features: [
    { name: "amount", type: "number" },
    { name: "label", type: "string" },
    { name: "premium", type: "bool" },
    { name: "last", type: "value" },
    { name: "vec", type: "embedding" },
    { name: "at", type: "timestamp" },
  ],
};

const simple: TableColumns = { keys: [{ name: "user", type: "string" }], features: [{ name: "clicks", type: "number" }] };

export interface ConformanceOptions {
  /** Run the 200,000-row case (default true; off for configurations that only exist to vary part sizes). */
  readonly large?: boolean;
}

export function tableHistoryConformance(
  name: string,
  open: () => Promise<TableHistoryStore>,
  cleanup?: () => Promise<void>,
  options: ConformanceOptions = {},
): void {
  describe(`table history conformance: ${name}`, () => {
    let store: TableHistoryStore;
    let tables = 0;
    /** A table name no other case (or earlier run against the same storage) uses. */
    const fresh = (label: string): string => `${label}-${Date.now().toString(36)}-${++tables}`;

    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });
    if (cleanup !== undefined) afterAll(cleanup);

    it("round-trips every column type, with nulls, NaN, undefined, -0, infinities and awkward text", async () => {
      const table = fresh("types");
      const rows: Row[] = [
        { user: "a", n: 1, ts: T, amount: 1.5, label: "plain", premium: true, last: { x: [1, "two", null], y: { z: false } }, vec: [0.1, 0.2], at: T - 1 },
        { user: "a", n: 2, ts: T + 1, amount: Number.NaN, label: null, premium: null, last: null, vec: null, at: Number.NaN },
        { user: "b", n: -3, ts: T + 2, amount: null, label: undefined, premium: undefined, last: undefined, vec: undefined, at: null },
        { user: "tab\there", n: 0.25, ts: T + 3, amount: -0, label: "line\nbreak\r\\back\\slash 'q' \"dq\"", premium: false, last: "just a string", vec: [], at: 0 },
        { user: "ünïcødé 🎉", n: 1e21, ts: T + 4, amount: Number.POSITIVE_INFINITY, label: "", premium: true, last: 42, vec: [1e-300, -1.7976931348623157e308], at: -5 },
        { user: "", n: -0, ts: T + 5, amount: Number.NEGATIVE_INFINITY, label: "\\N", premium: false, last: true, vec: [{ nested: "\\u0000 text" }], at: 1.5 },
        { user: "x,y", n: 7, ts: T + 6, amount: 5e-324, label: "ünïcødé 🎉", premium: true, last: ["a\tb", "c\nd", 'e"f'], vec: [1], at: T },
      ];
      // A batch whose every feature column is all null.
      const nulls: Row[] = [{ user: "z", n: 9, ts: T + 7, amount: null, label: null, premium: null, last: null, vec: null, at: null }];
      await store.begin(table, allTypes);
      await store.append(table, batchOf(allTypes, rows));
      await store.append(table, batchOf(allTypes, nulls));
      await store.commit(table, "v1");
      const got = await store.query(table);
      expect(got).toEqual(expectedQuery(allTypes, [...rows, ...nulls]));
      // -0 stays -0 in a feature; every row has its fields in order: keys, ts, features.
      expect(Object.is(got[3]?.["amount"], -0)).toBe(true);
      for (const r of got) expect(Object.keys(r)).toEqual(["user", "n", "ts", "amount", "label", "premium", "last", "vec", "at"]);
      // Keys of each type select their rows (-0 and 0 are one key).
      expect((await store.query(table, { keys: [["", 0]] })).map((r) => r["ts"])).toEqual([T + 5]);
      expect((await store.query(table, { keys: [["ünïcødé 🎉", 1e21], ["tab\there", 0.25]] })).map((r) => r["ts"])).toEqual([T + 3, T + 4]);
    });

    it("keeps boolean and JSON keys, and keyless tables", async () => {
      const boolTable = fresh("bool-keys");
      const boolCols: TableColumns = { keys: [{ name: "flag", type: "bool" }, { name: "obj", type: "value" }], features: [{ name: "v", type: "number" }] };
      const rows: Row[] = [
        { flag: true, obj: { a: 1 }, ts: T, v: 1 },
        { flag: false, obj: { a: 1 }, ts: T + 1, v: 2 },
        { flag: true, obj: ["x"], ts: T + 2, v: 3 },
        { flag: true, obj: "s", ts: T + 3, v: 4 },
      ];
      await store.begin(boolTable, boolCols);
      await store.append(boolTable, batchOf(boolCols, rows));
      expect(await store.query(boolTable)).toEqual(expectedQuery(boolCols, rows));
      expect((await store.query(boolTable, { keys: [[true, { a: 1 }], [true, "s"]] })).map((r) => r["v"])).toEqual([1, 4]);

      const keyless = fresh("keyless");
      const keylessCols: TableColumns = { keys: [], features: [{ name: "v", type: "number" }] };
      const events: Row[] = [
        { ts: T + 1, v: 1 },
        { ts: T, v: 2 },
      ];
      await store.begin(keyless, keylessCols);
      await store.append(keyless, batchOf(keylessCols, events));
      expect(await store.query(keyless)).toEqual([
        { ts: T, v: 2 },
        { ts: T + 1, v: 1 },
      ]);
      expect(await store.query(keyless, { keys: [[]] })).toEqual(await store.query(keyless));
      expect(await store.query(keyless, { keys: [] })).toEqual([]);
    });

    it("reads start <= ts < end at exact event times", async () => {
      const table = fresh("range");
      const rows: Row[] = [100, 200, 200, 300, 400].map((dt, i) => ({ user: `u${i % 2}`, ts: T + dt, clicks: i }));
      await store.begin(table, simple);
      await store.append(table, batchOf(simple, rows));
      const ts = async (q: TableHistoryQuery): Promise<unknown[]> => (await store.query(table, q)).map((r) => r["ts"]);
      expect(await ts({ start: T + 200, end: T + 300 })).toEqual([T + 200, T + 200]);
      expect(await ts({ start: T + 200 })).toEqual([T + 200, T + 200, T + 300, T + 400]);
      expect(await ts({ end: T + 200 })).toEqual([T + 100]);
      expect(await ts({ start: T + 100, end: T + 100 })).toEqual([]);
      expect(await ts({ start: T + 300, end: T + 200 })).toEqual([]);
      expect(await ts({ start: T + 400, end: T + 401 })).toEqual([T + 400]);
      expect(await ts({ start: T + 199.999, end: T + 200.001 })).toEqual([T + 200, T + 200]);
      expect(await ts({ start: Number.NEGATIVE_INFINITY, end: Number.POSITIVE_INFINITY })).toHaveLength(5);
      expect(await ts({ start: T + 500 })).toEqual([]);
      expect(await ts({ start: T + 200, end: T + 300, keys: [["u1"]] })).toEqual([T + 200]);
    });

    it("filters by one-field and multi-field keys, numeric and string, ignoring absent and repeated keys", async () => {
      const num = fresh("num-keys");
      const numCols: TableColumns = { keys: [{ name: "id", type: "int" }], features: [{ name: "v", type: "number" }] };
      const numRows: Row[] = Array.from({ length: 30 }, (_, i) => ({ id: i % 10, ts: T + i, v: i }));
      await store.begin(num, numCols);
      await store.append(num, batchOf(numCols, numRows));
      expect((await store.query(num, { keys: [[3], [7], [3], [99]] })).map((r) => r["v"])).toEqual([3, 7, 13, 17, 23, 27]);
      expect(await store.query(num, { keys: [] })).toEqual([]);

      const multi = fresh("multi-keys");
      const multiCols: TableColumns = {
        keys: [
          { name: "country", type: "string" },
          { name: "store", type: "float" },
        ],
        features: [{ name: "sales", type: "number" }],
      };
      const multiRows: Row[] = Array.from({ length: 40 }, (_, i) => ({ country: ["NL", "FR"][i % 2], store: i % 4, ts: T + i, sales: i }));
      await store.begin(multi, multiCols);
      await store.append(multi, batchOf(multiCols, multiRows));
      const q = { keys: [["NL", 2], ["FR", 1], ["NL", 1], ["FR", 2], ["DE", 0]] };
      expect(await store.query(multi, q)).toEqual(expectedQuery(multiCols, multiRows, q));
      // Both fields must match: NL stores are 0 and 2 only.
      expect((await store.query(multi, { keys: [["NL", 1]] })).length).toBe(0);
    });

    it("answers a list of 5,000 keys", async () => {
      const table = fresh("many-keys");
      const cols: TableColumns = {
        keys: [
          { name: "user", type: "string" },
          { name: "shard", type: "int" },
        ],
        features: [{ name: "v", type: "number" }],
      };
      const rows: Row[] = Array.from({ length: 20_000 }, (_, i) => ({ user: `user-${i % 8000}`, shard: i % 3, ts: T + ((i * 7919) % 20_000), v: i }));
      await store.begin(table, cols);
      await store.append(table, batchOf(cols, rows));
      // 4,000 keys present (some with rows, some with the wrong shard) and 1,000 absent.
      const keys = Array.from({ length: 5000 }, (_, j) => (j < 4000 ? [`user-${j * 2}`, j % 3] : [`nobody-${j}`, 0]));
      const q = { keys, start: T + 1000 };
      const got = await store.query(table, q);
      const want = expectedQuery(cols, rows, q);
      expect(want.length).toBeGreaterThan(1000);
      expect(got).toEqual(want);
    });

    it("orders rows by ts, then append order, across appends", async () => {
      const table = fresh("order");
      const appended: Row[] = [];
      await store.begin(table, simple);
      for (let a = 0; a < 6; a++) {
        // Each append has rows out of order and ties with earlier appends.
        const rows: Row[] = Array.from({ length: 9 }, (_, i) => ({ user: `u${(a + i) % 3}`, ts: T + ((i * 5 + a) % 7) * 10, clicks: a * 100 + i }));
        appended.push(...rows);
        await store.append(table, batchOf(simple, rows));
      }
      await store.append(table, batchOf(simple, []));
      const got = await store.query(table);
      expect(got).toEqual(expectedQuery(simple, appended));
      expect(await store.query(table, { keys: [["u1"]], start: T + 20 })).toEqual(expectedQuery(simple, appended, { keys: [["u1"]], start: T + 20 }));
      await store.commit(table, "done");
      expect(await store.query(table)).toEqual(got);
    });

    it("begins a new history over an old one, with new columns", async () => {
      const table = fresh("rebegin");
      await store.begin(table, simple);
      await store.append(table, batchOf(simple, [{ user: "a", ts: T, clicks: 1 }]));
      await store.commit(table, "old");
      expect(await store.marker(table)).toBe("old");
      const cols: TableColumns = { keys: [{ name: "id", type: "int" }], features: [{ name: "name", type: "string" }] };
      await store.begin(table, cols);
      expect(await store.marker(table)).toBeUndefined();
      expect(await store.query(table)).toEqual([]);
      await store.append(table, batchOf(cols, [{ id: 5, ts: T + 9, name: "new" }]));
      expect(await store.query(table)).toEqual([{ id: 5, ts: T + 9, name: "new" }]);
      // The old columns no longer fit.
      const e = await rejection(store.append(table, batchOf(simple, [{ user: "a", ts: T, clicks: 1 }])));
      expect(e).toBeInstanceOf(SchemaError);
    });

    it("reads the marker only after a commit: undefined before, after begin, and without a history", async () => {
      const table = fresh("marker");
      expect(await store.marker(table)).toBeUndefined();
      await store.begin(table, simple);
      expect(await store.marker(table)).toBeUndefined();
      await store.append(table, batchOf(simple, [{ user: "a", ts: T, clicks: 1 }]));
      expect(await store.marker(table)).toBeUndefined();
      await store.commit(table, "orders@3,users@7");
      expect(await store.marker(table)).toBe("orders@3,users@7");
      await store.commit(table, "");
      expect(await store.marker(table)).toBe("");
      await store.begin(table, simple);
      expect(await store.marker(table)).toBeUndefined();
    });

    it("refuses an unknown table with UnknownTableError; drop removes a history and is idempotent", async () => {
      const table = fresh("unknown");
      for (const call of [() => store.query(table), () => store.append(table, batchOf(simple, [])), () => store.commit(table, "m")]) {
        const e = await rejection(call());
        expect(e).toBeInstanceOf(UnknownTableError);
        expect(e.code).toBe("UNKNOWN_TABLE");
        expect(e.message).toContain(`"${table}"`);
      }
      await store.drop(table);
      await store.begin(table, simple);
      await store.append(table, batchOf(simple, [{ user: "a", ts: T, clicks: 1 }]));
      await store.commit(table, "m");
      const other = fresh("kept");
      await store.begin(other, simple);
      await store.drop(table);
      expect(await store.marker(table)).toBeUndefined();
      expect(await rejection(store.query(table))).toBeInstanceOf(UnknownTableError);
      await store.drop(table);
      // Other tables are untouched.
      expect(await store.query(other)).toEqual([]);
    });

    it("refuses columns named ts, __proto__ or twice, with a DefinitionError naming the column", async () => {
      const cases: Array<[TableColumns, string]> = [
        [{ keys: [{ name: "ts", type: "string" }], features: [] }, "ts"],
        [{ keys: [{ name: "user", type: "string" }], features: [{ name: "ts", type: "number" }] }, "ts"],
        [{ keys: [{ name: "user", type: "string" }], features: [{ name: "user", type: "number" }] }, "user"],
        [{ keys: [], features: [{ name: "__proto__", type: "number" }] }, "__proto__"],
      ];
      for (const [columns, column] of cases) {
        const table = fresh("bad-columns");
        const e = await rejection(store.begin(table, columns));
        expect(e).toBeInstanceOf(DefinitionError);
        expect(e.details.field).toBe(column);
        expect(e.message).toContain(`"${column}"`);
        expect(e.message).toContain(table);
        expect(await store.marker(table)).toBeUndefined();
      }
    });

    it("refuses a batch that does not fit, whole, with a SchemaError naming the column and row", async () => {
      const table = fresh("misfit");
      await store.begin(table, allTypes);
      const good: Row = { user: "a", n: 1, ts: T, amount: 1, label: "x", premium: true, last: 1, vec: [1], at: T };
      const cases: Array<[Row, string]> = [
        [{ ...good, label: 5 }, "label"],
        [{ ...good, premium: "yes" }, "premium"],
        [{ ...good, user: null }, "user"],
        [{ ...good, n: "1" }, "n"],
        [{ ...good, n: Number.NaN }, "n"],
        [{ ...good, last: { big: 1n } }, "last"],
      ];
      for (const [bad, field] of cases) {
        const batch = batchOf(allTypes, [good, bad]);
        const e = await rejection(store.append(table, batch));
        expect(e).toBeInstanceOf(SchemaError);
        expect(e.details).toMatchObject({ row: 1, field });
        expect(e.message).toContain(table);
      }
      // A string in a number column has to be put there by hand (batchOf turns it into NaN).
      const stringInNumber: TableHistoryBatch = { ...batchOf(allTypes, [good]), values: batchOf(allTypes, [good]).values.map((v, f) => (f === 0 ? ["1"] : v)) };
      expect((await rejection(store.append(table, stringInNumber))).details).toMatchObject({ row: 0, field: "amount" });
      const badTs = batchOf(allTypes, [good, { ...good, ts: Number.NaN }]);
      expect((await rejection(store.append(table, badTs))).details).toMatchObject({ row: 1 });
      const shortKeys: TableHistoryBatch = { ...batchOf(allTypes, [good]), keys: [["a"]] };
      expect(await rejection(store.append(table, shortKeys))).toBeInstanceOf(SchemaError);
      expect(await store.query(table)).toEqual([]);
    });

    it("refuses a query that does not fit with a RequestError", async () => {
      const table = fresh("bad-query");
      await store.begin(table, simple);
      await store.append(table, batchOf(simple, [{ user: "a", ts: T, clicks: 1 }]));
      expect((await rejection(store.query(table, { start: Number.NaN }))).details.field).toBe("start");
      expect((await rejection(store.query(table, { keys: [["a", 1]] }))).details.field).toBe("keys[0]");
      const e = await rejection(store.query(table, { keys: [["a"], [1]] }));
      expect(e).toBeInstanceOf(RequestError);
      expect(e.details.field).toBe("keys[1][0]");
    });

    it("keeps tables apart, and their histories apart when appends interleave", async () => {
      const a = fresh("apart-a");
      const b = fresh("apart-b");
      await Promise.all([store.begin(a, simple), store.begin(b, simple)]);
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.append(i % 2 === 0 ? a : b, batchOf(simple, [{ user: `u${i}`, ts: T + 100 - i, clicks: i }]))),
      );
      await Promise.all([store.commit(a, "a1"), store.commit(b, "b1")]);
      expect((await store.query(a)).map((r) => r["clicks"])).toEqual([8, 6, 4, 2, 0]);
      expect((await store.query(b)).map((r) => r["clicks"])).toEqual([9, 7, 5, 3, 1]);
      expect([await store.marker(a), await store.marker(b)]).toEqual(["a1", "b1"]);
    });

    it.skipIf(options.large === false)("appends 200,000 rows and reads them back (time printed, not asserted)", async () => {
      const table = fresh("big");
      const n = 200_000;
      const cols: TableColumns = {
        keys: [{ name: "user", type: "string" }],
        features: [
          { name: "sum_1h", type: "number" },
          { name: "count_1h", type: "number" },
          { name: "avg_1d", type: "number" },
          { name: "last_country", type: "value" },
        ],
      };
      const users = Array.from({ length: 5000 }, (_, i) => `user-${i}`);
      const batch: TableHistoryBatch = {
        length: n,
        keys: Array.from({ length: n }, (_, i) => [users[(i * 31) % users.length]]),
        ts: Float64Array.from({ length: n }, (_, i) => T + i * 10),
        values: [
          Float64Array.from({ length: n }, (_, i) => i * 0.5),
          Float64Array.from({ length: n }, (_, i) => i % 100),
          Float64Array.from({ length: n }, (_, i) => (i % 17 === 0 ? Number.NaN : i / 3)),
          Array.from({ length: n }, (_, i) => (i % 5 === 0 ? null : ["NL", "FR", "DE"][i % 3])),
        ],
      };
      let t0 = performance.now();
      await store.begin(table, cols);
      await store.append(table, batch);
      await store.commit(table, "big");
      const appendMs = performance.now() - t0;
      t0 = performance.now();
      const all = await store.query(table);
      const queryMs = performance.now() - t0;
      t0 = performance.now();
      const some = await store.query(table, { start: T + 500_000, end: T + 1_000_000, keys: users.slice(0, 100).map((u) => [u]) });
      const filteredMs = performance.now() - t0;
      console.log(
        `[table history ${name}] 200,000 rows: begin+append+commit ${appendMs.toFixed(0)} ms, full query ${queryMs.toFixed(0)} ms, ` +
          `range+100 keys ${filteredMs.toFixed(0)} ms (${some.length} rows)`,
      );
      expect(all.length).toBe(n);
      expect(all[0]).toEqual({ user: "user-0", ts: T, sum_1h: 0, count_1h: 0, avg_1d: null, last_country: null });
      expect(all[n - 1]).toEqual({ user: users[((n - 1) * 31) % users.length], ts: T + (n - 1) * 10, sum_1h: (n - 1) * 0.5, count_1h: (n - 1) % 100, avg_1d: (n - 1) / 3, last_country: "FR" });
      expect(some.length).toBe(1000);
    });

    it("answers like a direct filter and sort of the appended rows (property)", async () => {
      const cols: TableColumns = {
        keys: [
          { name: "user", type: "string" },
          { name: "shard", type: "int" },
        ],
        features: [
          { name: "x", type: "number" },
          { name: "s", type: "string" },
          { name: "b", type: "bool" },
          { name: "j", type: "value" },
        ],
      };
      const user = fc.constantFrom("a", "b", "c", "d é");
      const shard = fc.integer({ min: 0, max: 2 });
      const time = fc.integer({ min: 0, max: 20 }).map((i) => T + i * 100);
      const row = fc.record({
        user,
        shard,
        ts: time,
        x: fc.oneof(fc.double({ noDefaultInfinity: true }), fc.constant(null)),
        s: fc.oneof(fc.string({ maxLength: 6 }), fc.constant(null)),
        b: fc.oneof(fc.boolean(), fc.constant(null)),
        j: fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 4 }), fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 2 }), fc.boolean(), { maxKeys: 2 })),
      });
      const query = fc.record(
        {
          start: fc.oneof(time, time.map((t) => t + 50)),
          end: fc.oneof(time, time.map((t) => t + 50)),
          keys: fc.array(fc.tuple(user, shard), { maxLength: 6 }),
        },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(row, { maxLength: 30 }), { minLength: 1, maxLength: 4 }), fc.array(query, { minLength: 1, maxLength: 4 }), async (appends, queries) => {
          const table = fresh("prop");
          await store.begin(table, cols);
          const appended: Row[] = [];
          for (const rows of appends) {
            appended.push(...rows);
            await store.append(table, batchOf(cols, rows));
          }
          for (const q of queries) expect(await store.query(table, q)).toEqual(expectedQuery(cols, appended, q));
          await store.drop(table);
        }),
        { numRuns: 25, seed: 20261210 },
      );
    });

    it("rejects calls after close with a StorageError, and closes twice", async () => {
      const other = await open();
      await other.close();
      await other.close();
      for (const call of [() => other.query("t"), () => other.begin("t", simple), () => other.marker("t")]) {
        const e = await rejection(call());
        expect(e).toBeInstanceOf(StorageError);
        expect(e.message).toContain("closed");
      }
    });
  });
}
