/**
 * The cases every online store passes (memory, LMDB, Redis), defined once and
 * run per implementation by test/onlineStores.test.ts.
 *
 * Each case writes under namespaces of its own, so a suite may run against a
 * store that keeps data between cases (a Redis prefix, an LMDB file).
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { RequestError } from "../src/errors.js";
import type { FeatureRead, FeatureValue, OnlineStore, OnlineWrite } from "../src/stores/online/onlineStore.js";

const T = 1_700_000_000_000;

const present = (value: FeatureValue, eventTime: number): FeatureRead => ({ value, status: "PRESENT", eventTime });
const nullValue = (eventTime: number): FeatureRead => ({ value: null, status: "NULL_VALUE", eventTime });
const expired = (eventTime: number): FeatureRead => ({ value: null, status: "OUTSIDE_MAX_AGE", eventTime });
const notFound: FeatureRead = { value: null, status: "NOT_FOUND", eventTime: null };

/** Any JSON value, including one JSON changes (-0) and keys that trip up plain objects ("__proto__"). */
const featureValueArb: fc.Arbitrary<FeatureValue> = fc.letrec<{ value: FeatureValue }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 2 },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string(),
    fc.string({ unit: "binary", maxLength: 5 }),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 3 }), fc.constant("__proto__")), tie("value"), { maxKeys: 3 }),
  ),
})).value;

/** Casts a value the types forbid, to check the store rejects it at run time. */
const notJson = (value: unknown): FeatureValue => value as FeatureValue;

export function onlineStoreConformance(name: string, open: () => Promise<OnlineStore>, cleanup?: () => Promise<void>): void {
  describe(`online store conformance: ${name}`, () => {
    let store: OnlineStore;
    let namespaces = 0;
    /** A namespace no other case (or earlier run against the same store) uses. */
    const fresh = (label: string): string => `${label}-${Date.now().toString(36)}-${++namespaces}`;

    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });
    if (cleanup !== undefined) afterAll(cleanup);

    it("reads back keys and features in the order asked, NOT_FOUND for what is missing", async () => {
      const ns = fresh("order");
      await store.write(
        ns,
        [
          { key: "u1", features: { clicks: 3, country: "NL" }, eventTime: T - 500 },
          { key: "u2", features: { clicks: 7, country: "FR" }, eventTime: T - 100 },
          { key: "u3", features: { premium: true } },
        ],
        { now: T },
      );
      const reads = await store.read(ns, ["u2", "nobody", "u1", "u3"], ["country", "clicks", "premium"], { now: T + 1 });
      expect(reads).toEqual([
        [present("FR", T - 100), present(7, T - 100), notFound],
        [notFound, notFound, notFound],
        [present("NL", T - 500), present(3, T - 500), notFound],
        [notFound, notFound, present(true, T)],
      ]);
    });

    it("answers empty requests without touching anything", async () => {
      const ns = fresh("empty");
      await store.write(ns, [], { now: T });
      await store.write(ns, [{ key: "u1", features: {} }], { now: T });
      expect(await store.read(ns, [], ["a"], { now: T })).toEqual([]);
      expect(await store.read(ns, ["u1", "u2"], [], { now: T })).toEqual([[], []]);
      expect(await store.featuresOf(ns, "u1")).toEqual([]);
    });

    it("keeps the features a write does not name, and the event time of each", async () => {
      const ns = fresh("partial");
      await store.write(ns, [{ key: "u1", features: { a: 1, b: 2 } }], { now: T });
      await store.write(ns, [{ key: "u1", features: { b: 20, c: 30 } }], { now: T + 1000 });
      expect(await store.read(ns, ["u1"], ["a", "b", "c"], { now: T + 1000 })).toEqual([[present(1, T), present(20, T + 1000), present(30, T + 1000)]]);
    });

    it("applies the rows of one write in order: a later row for the same key wins and merges", async () => {
      const ns = fresh("rows");
      await store.write(
        ns,
        [
          { key: "u1", features: { a: 1, b: 1 }, eventTime: T - 10 },
          { key: "u1", features: { a: 2 }, eventTime: T - 5 },
        ],
        { now: T },
      );
      expect(await store.read(ns, ["u1"], ["a", "b"], { now: T })).toEqual([[present(2, T - 5), present(1, T - 10)]]);
    });

    it("reads a stored null as NULL_VALUE with its event time", async () => {
      const ns = fresh("null");
      await store.write(ns, [{ key: "u1", features: { a: null, b: 0 }, eventTime: T - 60_000 }], { now: T });
      expect(await store.read(ns, ["u1"], ["a", "b"], { now: T })).toEqual([[nullValue(T - 60_000), present(0, T - 60_000)]]);
    });

    it("defaults the event time to the write time", async () => {
      const ns = fresh("event-time");
      await store.write(ns, [{ key: "u1", features: { a: "x" } }, { key: "u2", features: { a: "y" }, eventTime: T - 42 }], { now: T });
      expect(await store.read(ns, ["u1", "u2"], ["a"], { now: T + 5 })).toEqual([[present("x", T)], [present("y", T - 42)]]);
    });

    it("serves a value up to exactly write time + TTL, then null with OUTSIDE_MAX_AGE", async () => {
      const ns = fresh("ttl");
      // The event time is far older than the TTL: TTLs count from the write, not the event.
      await store.write(ns, [{ key: "u1", features: { a: 5, n: null, forever: "kept" }, eventTime: T - 10_000_000 }], { now: T });
      const features = ["a", "n", "forever"];
      const ttlMs = { a: 500, n: 500 };
      expect(await store.read(ns, ["u1"], features, { now: T + 500, ttlMs })).toEqual([
        [present(5, T - 10_000_000), nullValue(T - 10_000_000), present("kept", T - 10_000_000)],
      ]);
      expect(await store.read(ns, ["u1"], features, { now: T + 501, ttlMs })).toEqual([
        [expired(T - 10_000_000), expired(T - 10_000_000), present("kept", T - 10_000_000)],
      ]);
      // Without TTLs, nothing expires.
      expect(await store.read(ns, ["u1"], ["a"], { now: T + 1e12 })).toEqual([[present(5, T - 10_000_000)]]);
    });

    it("refreshes the TTL when a value is written again", async () => {
      const ns = fresh("refresh");
      await store.write(ns, [{ key: "u1", features: { a: 1 } }], { now: T });
      await store.write(ns, [{ key: "u1", features: { a: 1 } }], { now: T + 400 });
      const ttlMs = { a: 500 };
      expect(await store.read(ns, ["u1"], ["a"], { now: T + 501, ttlMs })).toEqual([[present(1, T + 400)]]);
      expect(await store.read(ns, ["u1"], ["a"], { now: T + 900, ttlMs })).toEqual([[present(1, T + 400)]]);
      expect(await store.read(ns, ["u1"], ["a"], { now: T + 901, ttlMs })).toEqual([[expired(T + 400)]]);
    });

    it("applies each feature's own TTL", async () => {
      const ns = fresh("per-feature-ttl");
      await store.write(ns, [{ key: "u1", features: { short: 1, long: 2, none: 3 } }, { key: "u2", features: { long: 4 } }], { now: T });
      const ttlMs = { short: 100, long: 1_000 };
      expect(await store.read(ns, ["u1", "u2"], ["short", "long", "none"], { now: T + 500, ttlMs })).toEqual([
        [expired(T), present(2, T), present(3, T)],
        [notFound, present(4, T), notFound],
      ]);
      expect(await store.read(ns, ["u1"], ["short", "long", "none"], { now: T + 1_001, ttlMs })).toEqual([[expired(T), expired(T), present(3, T)]]);
    });

    it("stores with expireAfterMs like without it, as far as reads can tell", async () => {
      const ns = fresh("expire-after");
      await store.write(ns, [{ key: "u1", features: { a: 1 } }], { now: T, expireAfterMs: 60_000 });
      await store.write(ns, [{ key: "u1", features: { b: 2 } }], { now: T + 10 });
      expect(await store.read(ns, ["u1"], ["a", "b"], { now: T + 60_000, ttlMs: { a: 60_000 } })).toEqual([[present(1, T), present(2, T + 10)]]);
      expect(await store.read(ns, ["u1"], ["a"], { now: T + 60_001, ttlMs: { a: 60_000 } })).toEqual([[expired(T)]]);
    });

    it("isolates namespaces, including ones that share a prefix or contain ':' and '%'", async () => {
      const base = fresh("iso");
      const long = `${base}-${"n".repeat(80)}`;
      const names = [base, `${base}:x`, `${base}%3Ax`, `${base}x`, long, `${long}\u0000`, `${long}y`];
      for (let i = 0; i < names.length; i++) {
        const ns = names[i] ?? "";
        await store.write(ns, [{ key: "x:k", features: { v: 100 + i } }, { key: "k", features: { v: -100 - i } }], { now: T + i });
      }
      for (let i = 0; i < names.length; i++) {
        expect(await store.read(names[i] ?? "", ["x:k", "k"], ["v"], { now: T + 100 })).toEqual([[present(100 + i, T + i)], [present(-100 - i, T + i)]]);
      }
      // Dropping or deleting in one leaves all the others whole.
      await store.dropNamespace(base);
      await store.deleteFeature(long, "v");
      expect(await store.read(base, ["x:k", "k"], ["v"], { now: T + 100 })).toEqual([[notFound], [notFound]]);
      expect(await store.read(long, ["x:k", "k"], ["v"], { now: T + 100 })).toEqual([[notFound], [notFound]]);
      for (let i = 0; i < names.length; i++) {
        if (i === 0 || i === 4) continue;
        expect(await store.read(names[i] ?? "", ["x:k", "k"], ["v"], { now: T + 100 })).toEqual([[present(100 + i, T + i)], [present(-100 - i, T + i)]]);
      }
    });

    it("deleteFeature removes one feature from every key of that namespace only", async () => {
      const ns = fresh("delete");
      const other = fresh("delete-other");
      await store.write(
        ns,
        [
          { key: "u1", features: { a: 1, b: 2 } },
          { key: "u2", features: { a: 3 } },
          { key: "u3", features: { b: 4 } },
        ],
        { now: T },
      );
      await store.write(other, [{ key: "u1", features: { a: 5, b: 6 } }], { now: T });
      await store.deleteFeature(ns, "a");
      expect(await store.read(ns, ["u1", "u2", "u3"], ["a", "b"], { now: T })).toEqual([
        [notFound, present(2, T)],
        [notFound, notFound],
        [notFound, present(4, T)],
      ]);
      expect(await store.featuresOf(ns, "u1")).toEqual(["b"]);
      expect(await store.featuresOf(ns, "u2")).toEqual([]);
      expect(await store.read(other, ["u1"], ["a", "b"], { now: T })).toEqual([[present(5, T), present(6, T)]]);
      // The feature can be written again afterwards.
      await store.write(ns, [{ key: "u2", features: { a: 7 } }], { now: T + 1 });
      expect(await store.read(ns, ["u2"], ["a", "b"], { now: T + 1 })).toEqual([[present(7, T + 1), notFound]]);
      // Deleting from an unknown namespace or an absent feature changes nothing.
      await store.deleteFeature(fresh("never-written"), "a");
      await store.deleteFeature(ns, "zzz");
      expect(await store.read(ns, ["u1"], ["b"], { now: T })).toEqual([[present(2, T)]]);
    });

    it("dropNamespace removes everything under the namespace, and it can be written again", async () => {
      const ns = fresh("drop");
      const other = fresh("drop-other");
      await store.write(ns, [{ key: "u1", features: { a: 1 } }, { key: "u2", features: { b: 2 } }], { now: T });
      await store.write(other, [{ key: "u1", features: { a: 3 } }], { now: T });
      await store.dropNamespace(ns);
      expect(await store.read(ns, ["u1", "u2"], ["a", "b"], { now: T })).toEqual([
        [notFound, notFound],
        [notFound, notFound],
      ]);
      expect(await store.featuresOf(ns, "u1")).toEqual([]);
      expect(await store.read(other, ["u1"], ["a"], { now: T })).toEqual([[present(3, T)]]);
      await store.write(ns, [{ key: "u1", features: { b: 9 } }], { now: T + 1 });
      expect(await store.read(ns, ["u1"], ["a", "b"], { now: T + 1 })).toEqual([[notFound, present(9, T + 1)]]);
      await store.dropNamespace(fresh("never-written"));
    });

    it("featuresOf lists a key's features, sorted, expired and null ones included", async () => {
      const ns = fresh("features-of");
      await store.write(ns, [{ key: "u1", features: { zeta: 1, alpha: null } }], { now: T });
      await store.write(ns, [{ key: "u1", features: { mid: "x" } }], { now: T + 10_000 });
      expect(await store.featuresOf(ns, "u1")).toEqual(["alpha", "mid", "zeta"]);
      expect(await store.featuresOf(ns, "nobody")).toEqual([]);
    });

    it("treats prototype names as ordinary feature names", async () => {
      const ns = fresh("proto");
      const features: Record<string, FeatureValue> = Object.fromEntries([
        ["__proto__", 1],
        ["constructor", 2],
      ]);
      await store.write(ns, [{ key: "u1", features }], { now: T });
      expect(await store.read(ns, ["u1", "u2"], ["__proto__", "constructor", "toString"], { now: T, ttlMs: Object.fromEntries([["__proto__", 10]]) })).toEqual([
        [present(1, T), present(2, T), notFound],
        [notFound, notFound, notFound],
      ]);
      expect(await store.read(ns, ["u1"], ["__proto__"], { now: T + 11, ttlMs: Object.fromEntries([["__proto__", 10]]) })).toEqual([[expired(T)]]);
      expect(await store.featuresOf(ns, "u1")).toEqual(["__proto__", "constructor"]);
    });

    it("round-trips values of every JSON kind exactly", async () => {
      const ns = fresh("json");
      const values: Record<string, FeatureValue> = {
        empty: "",
        text: 'héllo "wörld"\n\t\\ 🚀 \u0000 \ud800',
        zero: 0,
        negative: -17,
        fraction: -0.1,
        tiny: 5e-324,
        large: Number.MAX_SAFE_INTEGER,
        huge: -1.7976931348623157e308,
        yes: true,
        no: false,
        emptyArray: [],
        array: [1, "two", null, [true, [false]], { k: -2.5 }],
        emptyObject: {},
        nested: { a: { b: [{ c: null, d: "e" }], f: 1.25 }, "key with spaces": "x", "": "empty key" },
        protoKey: JSON.parse('{"__proto__": {"x": 1}, "constructor": "c"}') as FeatureValue,
      };
      await store.write(ns, [{ key: "u1", features: values }], { now: T });
      const names = Object.keys(values);
      const [row] = await store.read(ns, ["u1"], names, { now: T });
      expect(row?.map((read) => read.value)).toEqual(names.map((feature) => values[feature]));
      expect(row?.every((read) => read.status === "PRESENT")).toBe(true);
      // -0 is not JSON: it reads back as 0 in every store.
      await store.write(ns, [{ key: "u2", features: { minusZero: -0, inArray: [-0] } }], { now: T });
      const [minus] = await store.read(ns, ["u2"], ["minusZero", "inArray"], { now: T });
      expect(Object.is(minus?.[0]?.value, 0)).toBe(true);
      expect(minus?.[1]?.value).toEqual([0]);
    });

    it("reads a 1,000-key batch in full and in order", async () => {
      const ns = fresh("batch");
      const rows: OnlineWrite[] = Array.from({ length: 1_000 }, (_, i) => ({ key: `user-${i}`, features: { n: i, s: `v${i}` }, eventTime: T - i }));
      await store.write(ns, rows, { now: T });
      const keys = rows.map((row) => row.key).reverse();
      keys.splice(500, 0, "user-missing");
      const reads = await store.read(ns, keys, ["s", "n"], { now: T });
      expect(reads).toHaveLength(1_001);
      const expected = keys.map((key) => {
        if (key === "user-missing") return [notFound, notFound];
        const i = Number(key.slice("user-".length));
        return [present(`v${i}`, T - i), present(i, T - i)];
      });
      expect(reads).toEqual(expected);
    });

    describe("rejects values that are not JSON with a RequestError, storing nothing of the write", () => {
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = cyclic;
      const sparse: unknown[] = [1];
      sparse[2] = 3;
      const cases: [string, unknown, string][] = [
        ["a bigint", 10n, "bigint"],
        ["a function", () => 1, "function"],
        ["undefined", undefined, "undefined"],
        ["NaN", Number.NaN, "NaN"],
        ["Infinity", Number.POSITIVE_INFINITY, "Infinity"],
        ["a symbol", Symbol("s"), "symbol"],
        ["a Date", new Date(T), "Date"],
        ["a Map", new Map([["a", 1]]), "Map"],
        ["undefined inside an object", { a: { b: undefined } }, "bad.a.b is undefined"],
        ["a bigint inside an array", [1, [2, 3n]], "bad[1][1] is a bigint"],
        ["a hole in an array", sparse, "bad[1] is a hole"],
        ["a cycle", cyclic, "bad.self is a circular reference"],
      ];
      it.each(cases)("%s", async (_label, value, problem) => {
        const ns = fresh("invalid");
        await store.write(ns, [{ key: "u1", features: { a: 1, b: "kept" } }], { now: T });
        const bad: OnlineWrite[] = [
          { key: "u1", features: { a: 2 } },
          { key: "u-new", features: { a: 3 } },
          { key: "u-bad", features: { ok: 1, bad: notJson(value) } },
        ];
        const error: unknown = await store.write(ns, bad, { now: T + 1 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(RequestError);
        expect(error).toMatchObject({ code: "INVALID_REQUEST", details: { field: "rows[2].features.bad" } });
        const message = error instanceof Error ? error.message : "";
        expect(message).toContain(`namespace "${ns}"`);
        expect(message).toContain('key "u-bad"');
        expect(message).toContain('Feature "bad"');
        expect(message).toContain(problem);
        // Nothing of the failed write was applied: not the earlier rows, not the valid features of its own row.
        expect(await store.read(ns, ["u1", "u-new", "u-bad"], ["a", "b", "ok"], { now: T + 1 })).toEqual([
          [present(1, T), present("kept", T), notFound],
          [notFound, notFound, notFound],
          [notFound, notFound, notFound],
        ]);
      });

      it("a non-finite time", async () => {
        const ns = fresh("invalid-time");
        await expect(store.write(ns, [{ key: "u1", features: { a: 1 } }], { now: Number.NaN })).rejects.toMatchObject({ code: "INVALID_REQUEST" });
        await expect(store.write(ns, [{ key: "u1", features: { a: 1 }, eventTime: Number.POSITIVE_INFINITY }], { now: T })).rejects.toMatchObject({
          code: "INVALID_REQUEST",
          details: { field: "rows[0].eventTime" },
        });
        await expect(store.read(ns, ["u1"], ["a"], { now: Number.NaN })).rejects.toMatchObject({ code: "INVALID_REQUEST" });
        expect(await store.featuresOf(ns, "u1")).toEqual([]);
      });
    });

    describe('order "event-time"', () => {
      const ordered = { now: T, order: "event-time" } as const;

      it("ignores an older write and applies a newer one", async () => {
        const ns = fresh("et-newer");
        await store.write(ns, [{ key: "u1", features: { a: "first" }, eventTime: T - 10 }], ordered);
        await store.write(ns, [{ key: "u1", features: { a: "older" }, eventTime: T - 20 }], { ...ordered, now: T + 1 });
        expect(await store.read(ns, ["u1"], ["a"], { now: T + 2 })).toEqual([[present("first", T - 10)]]);
        await store.write(ns, [{ key: "u1", features: { a: "newer" }, eventTime: T - 5 }], { ...ordered, now: T + 3 });
        expect(await store.read(ns, ["u1"], ["a"], { now: T + 4 })).toEqual([[present("newer", T - 5)]]);
      });

      it("breaks an event-time tie by epoch: a lower one is ignored, a higher one applied", async () => {
        const ns = fresh("et-epoch");
        await store.write(ns, [{ key: "u1", features: { a: 1 }, eventTime: T - 10, epoch: 3 }], ordered);
        await store.write(ns, [{ key: "u1", features: { a: 2 }, eventTime: T - 10, epoch: 2 }], ordered);
        expect(await store.read(ns, ["u1"], ["a"], { now: T })).toEqual([[present(1, T - 10)]]);
        await store.write(ns, [{ key: "u1", features: { a: 3 }, eventTime: T - 10, epoch: 4 }], ordered);
        expect(await store.read(ns, ["u1"], ["a"], { now: T })).toEqual([[present(3, T - 10)]]);
        // The event time decides first: a higher epoch does not bring back an older event.
        await store.write(ns, [{ key: "u1", features: { a: 4 }, eventTime: T - 11, epoch: 99 }], ordered);
        expect(await store.read(ns, ["u1"], ["a"], { now: T })).toEqual([[present(3, T - 10)]]);
      });

      it("counts a cell stored without an epoch (plain write order) as epoch 0", async () => {
        const ns = fresh("et-legacy");
        await store.write(ns, [{ key: "u1", features: { a: "plain", b: "plain" }, eventTime: T - 10 }], { now: T });
        await store.write(
          ns,
          [
            { key: "u1", features: { a: "epoch 0" }, eventTime: T - 10 },
            { key: "u1", features: { b: "epoch 1" }, eventTime: T - 10, epoch: 1 },
          ],
          { ...ordered, now: T + 1 },
        );
        expect(await store.read(ns, ["u1"], ["a", "b"], { now: T + 1 })).toEqual([[present("epoch 0", T - 10), present("epoch 1", T - 10)]]);
        // The plain order stores epochs too, and ignores them itself.
        await store.write(ns, [{ key: "u1", features: { b: "plain again" }, eventTime: T - 50 }], { now: T + 2 });
        expect(await store.read(ns, ["u1"], ["b"], { now: T + 2 })).toEqual([[present("plain again", T - 50)]]);
        // What it stores is compared with: a tie needs at least the epoch the plain write stored.
        await store.write(ns, [{ key: "u1", features: { b: "plain, epoch 5" }, eventTime: T - 50, epoch: 5 }], { now: T + 3 });
        await store.write(ns, [{ key: "u1", features: { b: "epoch 4" }, eventTime: T - 50, epoch: 4 }], { ...ordered, now: T + 4 });
        expect(await store.read(ns, ["u1"], ["b"], { now: T + 4 })).toEqual([[present("plain, epoch 5", T - 50)]]);
        await store.write(ns, [{ key: "u1", features: { b: "epoch 5" }, eventTime: T - 50, epoch: 5 }], { ...ordered, now: T + 5 });
        expect(await store.read(ns, ["u1"], ["b"], { now: T + 5 })).toEqual([[present("epoch 5", T - 50)]]);
      });

      it("is idempotent: the same write again leaves the same values (and refreshes their TTL)", async () => {
        const ns = fresh("et-idempotent");
        const rows: OnlineWrite[] = [
          { key: "u1", features: { a: { n: 1 }, b: null }, eventTime: T - 10, epoch: 2 },
          { key: "u2", features: { a: [1, 2] }, eventTime: T - 20 },
        ];
        await store.write(ns, rows, ordered);
        const first = await store.read(ns, ["u1", "u2"], ["a", "b"], { now: T + 400 });
        await store.write(ns, rows, { ...ordered, now: T + 400 });
        expect(await store.read(ns, ["u1", "u2"], ["a", "b"], { now: T + 400 })).toEqual(first);
        expect(first).toEqual([
          [present({ n: 1 }, T - 10), nullValue(T - 10)],
          [present([1, 2], T - 20), notFound],
        ]);
        // Equal (eventTime, epoch) replaces, so the rewrite counts as the latest write.
        expect(await store.read(ns, ["u1"], ["a"], { now: T + 900, ttlMs: { a: 500 } })).toEqual([[present({ n: 1 }, T - 10)]]);
      });

      it("decides each feature of a row on its own", async () => {
        const ns = fresh("et-per-feature");
        await store.write(ns, [{ key: "u1", features: { a: "a@-10", b: "b@-30" }, eventTime: T - 30 }], ordered);
        await store.write(ns, [{ key: "u1", features: { a: "a@-10" }, eventTime: T - 10 }], ordered);
        await store.write(ns, [{ key: "u1", features: { a: "a@-20", b: "b@-20", c: "c@-20" }, eventTime: T - 20 }], ordered);
        expect(await store.read(ns, ["u1"], ["a", "b", "c"], { now: T })).toEqual([[present("a@-10", T - 10), present("b@-20", T - 20), present("c@-20", T - 20)]]);
      });

      it("compares rows of one write with each other, in order", async () => {
        const ns = fresh("et-rows");
        await store.write(
          ns,
          [
            { key: "u1", features: { a: "newest", b: "b1" }, eventTime: T - 5 },
            { key: "u1", features: { a: "stale", b: "b2" }, eventTime: T - 9, epoch: 7 },
            { key: "u1", features: { b: "b3" }, eventTime: T - 5, epoch: 1 },
          ],
          ordered,
        );
        expect(await store.read(ns, ["u1"], ["a", "b"], { now: T })).toEqual([[present("newest", T - 5), present("b3", T - 5)]]);
      });

      it("does not refresh the TTL of a feature whose write it ignores", async () => {
        const ns = fresh("et-ttl");
        await store.write(ns, [{ key: "u1", features: { a: 1, b: 1 }, eventTime: T - 10 }], { ...ordered, expireAfterMs: 60_000 });
        // At T + 400: a's write is older (ignored), b's is newer (applied, so its TTL restarts).
        await store.write(
          ns,
          [
            { key: "u1", features: { a: 2 }, eventTime: T - 20 },
            { key: "u1", features: { b: 2 }, eventTime: T },
          ],
          { ...ordered, now: T + 400, expireAfterMs: 60_000 },
        );
        const ttlMs = { a: 500, b: 500 };
        expect(await store.read(ns, ["u1"], ["a", "b"], { now: T + 500, ttlMs })).toEqual([[present(1, T - 10), present(2, T)]]);
        expect(await store.read(ns, ["u1"], ["a", "b"], { now: T + 501, ttlMs })).toEqual([[expired(T - 10), present(2, T)]]);
        // A write ignored in full leaves the key as it was.
        await store.write(ns, [{ key: "u1", features: { a: 3, b: 3 }, eventTime: T - 30 }], { ...ordered, now: T + 600, expireAfterMs: 60_000 });
        expect(await store.read(ns, ["u1"], ["a", "b"], { now: T + 900, ttlMs })).toEqual([[expired(T - 10), present(2, T)]]);
        expect(await store.read(ns, ["u1"], ["a", "b"], { now: T + 901, ttlMs })).toEqual([[expired(T - 10), expired(T)]]);
      });

      it("ends with the newest values when two writers' batches interleave, the older issued last", async () => {
        const ns = fresh("et-concurrent");
        const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
        // Writer "live" has the newer event for even keys, writer "replay" (a higher epoch) for odd ones and ties at multiples of 3.
        const live: OnlineWrite[] = keys.map((key, i) => ({ key, features: { v: `live-${i}`, w: i }, eventTime: T + (i % 2 === 0 ? 10 : 0), epoch: 1 }));
        const replay: OnlineWrite[] = keys.map((key, i) => ({
          key,
          features: { v: `replay-${i}`, w: -1 - i },
          eventTime: T + (i % 3 === 0 ? 10 : i % 2 === 0 ? 5 : 10),
          epoch: 2,
        }));
        const newest = (i: number): OnlineWrite | undefined => {
          const a = live[i];
          const b = replay[i];
          if (a === undefined || b === undefined) return undefined;
          const aFirst = (a.eventTime ?? 0) > (b.eventTime ?? 0) || ((a.eventTime ?? 0) === (b.eventTime ?? 0) && (a.epoch ?? 0) >= (b.epoch ?? 0));
          return aFirst ? a : b;
        };
        const batches = (rows: OnlineWrite[]): OnlineWrite[][] => Array.from({ length: 6 }, (_, b) => rows.slice(b * 10, b * 10 + 10));
        const liveBatches = batches(live);
        const replayBatches = batches(replay);
        // Interleaved, alternating which writer goes first; each batch mixes winners of both, so in every pair some keys get their older value last.
        const issued: Promise<void>[] = [];
        for (let b = 0; b < 6; b++) {
          const pair = [liveBatches[b] ?? [], replayBatches[b] ?? []];
          if (b % 2 === 1) pair.reverse();
          for (const rows of pair) issued.push(store.write(ns, rows, { ...ordered, now: T + 20 + b }));
        }
        // Then both again, whole and in reverse: nothing may move backwards.
        issued.push(store.write(ns, [...replay].reverse(), { ...ordered, now: T + 30 }), store.write(ns, [...live].reverse(), { ...ordered, now: T + 31 }));
        await Promise.all(issued);
        const reads = await store.read(ns, keys, ["v", "w"], { now: T + 40 });
        expect(reads).toEqual(
          keys.map((_, i) => {
            const row = newest(i);
            return [present(row?.features.v ?? null, row?.eventTime ?? 0), present(row?.features.w ?? null, row?.eventTime ?? 0)];
          }),
        );
        // Some of each writer won, so the check covers both directions.
        const winners = new Set(reads.map((row) => String(row[0]?.value).split("-")[0]));
        expect(winners).toEqual(new Set(["live", "replay"]));
      });

      it("takes a batch of 10,000 rows (a job's batch), older and newer ones mixed", async () => {
        const ns = fresh("et-large");
        const rows = (eventTime: (i: number) => number, tag: string): OnlineWrite[] =>
          Array.from({ length: 10_000 }, (_, i) => ({ key: `user-${i}`, features: { a: `${tag}${i}`, b: i }, eventTime: eventTime(i) }));
        await store.write(ns, rows(() => T, "first-"), ordered);
        await store.write(ns, rows((i) => (i % 2 === 0 ? T + 1 : T - 1), "second-"), { ...ordered, now: T + 1 });
        const reads = await store.read(ns, ["user-0", "user-1", "user-9998", "user-9999"], ["a", "b"], { now: T + 1 });
        expect(reads).toEqual([
          [present("second-0", T + 1), present(0, T + 1)],
          [present("first-1", T), present(1, T)],
          [present("second-9998", T + 1), present(9998, T + 1)],
          [present("first-9999", T), present(9999, T)],
        ]);
      });

      it("rejects an epoch that is not a whole number >= 0, and an unknown order, storing nothing", async () => {
        const ns = fresh("et-invalid");
        for (const epoch of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, notJson("3")]) {
          const error: unknown = await store
            .write(
              ns,
              [
                { key: "u1", features: { a: 1 } },
                { key: "u2", features: { a: 2 }, epoch: epoch as number },
              ],
              ordered,
            )
            .then(
              () => undefined,
              (e: unknown) => e,
            );
          expect(error).toBeInstanceOf(RequestError);
          expect(error).toMatchObject({ code: "INVALID_REQUEST", details: { field: "rows[1].epoch" } });
          expect(error instanceof Error ? error.message : "").toContain("whole number >= 0");
        }
        const badOrder = { now: T, order: notJson("latest") as "write" };
        await expect(store.write(ns, [{ key: "u1", features: { a: 1 } }], badOrder)).rejects.toMatchObject({ code: "INVALID_REQUEST", details: { field: "order" } });
        expect(await store.read(ns, ["u1", "u2"], ["a"], { now: T })).toEqual([[notFound], [notFound]]);
      });

      it("matches a model of the rule over random ordered and plain writes (property)", async () => {
        const keyArb = fc.constantFrom("k0", "k1", "x:k2");
        const featureArb = fc.constantFrom("f0", "f1", "__proto__");
        const rowArb = fc.record(
          {
            key: keyArb,
            features: fc.uniqueArray(fc.tuple(featureArb, fc.integer()), { selector: ([feature]) => feature, maxLength: 3 }),
            // Narrow ranges, so that ties on event time and epoch are common.
            eventTime: fc.integer({ min: T - 3, max: T + 3 }),
            epoch: fc.nat(3),
          },
          { requiredKeys: ["key", "features"] },
        );
        const writeArb = fc.record({ rows: fc.array(rowArb, { maxLength: 4 }), ordered: fc.boolean(), advance: fc.nat(3) });
        await fc.assert(
          fc.asyncProperty(fc.array(writeArb, { maxLength: 10 }), fc.nat(10), async (writes, ttl) => {
            const ns = fresh("et-prop");
            const model = new Map<string, Map<string, { value: number; writtenAt: number; eventTime: number; epoch: number }>>();
            let now = T;
            for (const write of writes) {
              now += write.advance;
              const rows: OnlineWrite[] = write.rows.map((row) => ({
                key: row.key,
                features: Object.fromEntries(row.features),
                ...(row.eventTime === undefined ? {} : { eventTime: row.eventTime }),
                ...(row.epoch === undefined ? {} : { epoch: row.epoch }),
              }));
              await store.write(ns, rows, write.ordered ? { now, order: "event-time" } : { now });
              for (const row of write.rows) {
                const eventTime = row.eventTime ?? now;
                const epoch = row.epoch ?? 0;
                const cells = model.get(row.key) ?? new Map();
                model.set(row.key, cells);
                for (const [feature, value] of row.features) {
                  const stored = cells.get(feature);
                  const older = stored !== undefined && (eventTime < stored.eventTime || (eventTime === stored.eventTime && epoch < stored.epoch));
                  if (write.ordered && older) continue;
                  cells.set(feature, { value: value === 0 ? 0 : value, writtenAt: now, eventTime, epoch });
                }
              }
            }
            const keys = ["k0", "k1", "x:k2"];
            const features = ["f0", "f1", "__proto__"];
            const ttlMs = { f0: ttl };
            const readAt = now + 5;
            expect(await store.read(ns, keys, features, { now: readAt, ttlMs })).toEqual(
              keys.map((key) =>
                features.map((feature): FeatureRead => {
                  const cell = model.get(key)?.get(feature);
                  if (cell === undefined) return notFound;
                  if (feature === "f0" && readAt - cell.writtenAt > ttl) return expired(cell.eventTime);
                  return present(cell.value, cell.eventTime);
                }),
              ),
            );
          }),
          { numRuns: 40 },
        );
      });
    });

    it("matches a map model over random writes, deletes and TTL reads (property)", async () => {
      const keyArb = fc.constantFrom("k0", "k1", "x:k2", "k 3", "ключ");
      const featureArb = fc.constantFrom("f0", "f1", "constructor", "__proto__");
      const rowArb = fc.record(
        {
          key: keyArb,
          features: fc.uniqueArray(fc.tuple(featureArb, featureValueArb), { selector: ([feature]) => feature, maxLength: 4 }),
          eventTime: fc.integer({ min: T - 1_000_000, max: T + 1_000_000 }),
        },
        { requiredKeys: ["key", "features"] },
      );
      const opArb = fc.oneof(
        { weight: 6, arbitrary: fc.record({ kind: fc.constant("write" as const), ns: fc.nat(1), rows: fc.array(rowArb, { maxLength: 4 }), advance: fc.nat(1_000) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant("deleteFeature" as const), ns: fc.nat(1), feature: featureArb }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant("dropNamespace" as const), ns: fc.nat(1) }) },
      );
      const ttlArb = fc.array(fc.tuple(featureArb, fc.nat(3_000)), { maxLength: 4 });

      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { maxLength: 12 }), ttlArb, fc.nat(3_000), async (ops, ttlEntries, readDelay) => {
          const run = [fresh("prop-a"), fresh("prop-b")];
          // namespace → key → feature → what was written; rule checks below are written independently of the stores.
          const model = new Map<string, Map<string, Map<string, { value: FeatureValue; writtenAt: number; eventTime: number }>>>();
          let now = T;
          for (const op of ops) {
            const ns = run[op.ns] ?? "";
            if (op.kind === "write") {
              now += op.advance;
              const rows: OnlineWrite[] = op.rows.map((row) => ({
                key: row.key,
                features: Object.fromEntries(row.features),
                ...(row.eventTime === undefined ? {} : { eventTime: row.eventTime }),
              }));
              await store.write(ns, rows, { now });
              for (const row of op.rows) {
                for (const [feature, value] of row.features) {
                  const keys = model.get(ns) ?? new Map();
                  model.set(ns, keys);
                  const cells = keys.get(row.key) ?? new Map();
                  keys.set(row.key, cells);
                  // The contract is JSON: what is read is what JSON.stringify/parse gives back (-0 becomes 0).
                  cells.set(feature, { value: JSON.parse(JSON.stringify(value)) as FeatureValue, writtenAt: now, eventTime: row.eventTime ?? now });
                }
              }
            } else if (op.kind === "deleteFeature") {
              await store.deleteFeature(ns, op.feature);
              for (const [key, cells] of model.get(ns) ?? []) {
                cells.delete(op.feature);
                if (cells.size === 0) model.get(ns)?.delete(key);
              }
            } else {
              await store.dropNamespace(ns);
              model.delete(ns);
            }
          }
          const ttls = new Map<string, number>(ttlEntries);
          const readAt = now + readDelay;
          const keys = ["k0", "k1", "x:k2", "k 3", "ключ", "absent"];
          const features = ["f0", "f1", "constructor", "__proto__", "absent"];
          for (const ns of run) {
            const reads = await store.read(ns, keys, features, { now: readAt, ttlMs: Object.fromEntries(ttls) });
            const expected = keys.map((key) =>
              features.map((feature): FeatureRead => {
                const cell = model.get(ns)?.get(key)?.get(feature);
                if (cell === undefined) return notFound;
                const ttl = ttls.get(feature);
                if (ttl !== undefined && readAt - cell.writtenAt > ttl) return expired(cell.eventTime);
                return cell.value === null ? nullValue(cell.eventTime) : present(cell.value, cell.eventTime);
              }),
            );
            expect(reads).toEqual(expected);
            for (const key of keys) {
              expect(await store.featuresOf(ns, key)).toEqual([...(model.get(ns)?.get(key)?.keys() ?? [])].sort());
            }
          }
        }),
        { numRuns: 40 },
      );
    });
  });
}
