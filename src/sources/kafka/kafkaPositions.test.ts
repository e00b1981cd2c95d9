import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SourceError } from "../../errors.js";
import type { SourcePosition } from "../stream/streamSource.js";
import { acknowledgedCount, formatPosition, lagOf, offsetsToCommit, parsePosition, startingOffsets } from "./kafkaPositions.js";

const MAX = 2n ** 63n - 1n;
const offset = fc.bigInt({ min: 0n, max: MAX });
const partition = fc.integer({ min: 0, max: 63 });
const offsets = fc.uniqueArray(fc.tuple(partition, offset), { selector: (t) => t[0], maxLength: 12 }).map((e) => new Map(e));

describe("kafka positions: parse and format", () => {
  it("formats partitions in ascending order with offsets as text", () => {
    expect(formatPosition(new Map([[3, 7n], [0, 12n], [10, MAX]]))).toEqual({ "0": "12", "3": "7", "10": "9223372036854775807" });
    expect(Object.keys(formatPosition(new Map([[10, 1n], [2, 1n]])))).toEqual(["2", "10"]);
    expect(formatPosition(new Map())).toEqual({});
  });

  it("reads back exactly what it wrote, through JSON (property)", () => {
    fc.assert(
      fc.property(offsets, (m) => {
        const saved = JSON.parse(JSON.stringify(formatPosition(m))) as SourcePosition;
        expect(parsePosition(saved)).toEqual(m);
      }),
    );
  });

  it("keeps 64-bit offsets exact (no float rounding)", () => {
    expect(parsePosition({ "0": "9007199254740993" }).get(0)).toBe(9_007_199_254_740_993n);
  });

  it.each<[string, SourcePosition, RegExp]>([
    ["a number", 42, /object of partition → next offset/],
    ["null", null, /object of partition/],
    ["an array", ["1"], /object of partition/],
    ["a non-numeric key", { a: "1" }, /key "a" is not a partition number/],
    ["a negative key", { "-1": "1" }, /key "-1"/],
    ["a key with leading zeros", { "01": "1" }, /key "01"/],
    ["a number offset", { "0": 5 }, /partition 0 must be a whole number >= 0 written as text/],
    ["a negative offset", { "0": "-5" }, /partition 0/],
    ["a fractional offset", { "0": "1.5" }, /partition 0/],
    ["an offset above 2^63-1", { "0": "9223372036854775808" }, /partition 0/],
  ])("rejects %s with a SourceError saying what a position is", (_, position, message) => {
    expect(() => parsePosition(position)).toThrow(SourceError);
    expect(() => parsePosition(position)).toThrow(message);
  });
});

describe("kafka positions: where each partition starts", () => {
  it("uses the saved offset, else the earliest (or latest) offset the broker holds", () => {
    const saved = new Map([[1, 15n]]);
    expect(startingOffsets(saved, [0n, 10n, 5n], [20n, 30n, 5n], "earliest", "t")).toEqual(new Map([[0, 0n], [1, 15n], [2, 5n]]));
    expect(startingOffsets(saved, [0n, 10n, 5n], [20n, 30n, 5n], "latest", "t")).toEqual(new Map([[0, 20n], [1, 15n], [2, 5n]]));
  });

  it("keeps saved partitions the topic no longer lists", () => {
    expect(startingOffsets(new Map([[4, 9n]]), [0n], [3n], "earliest", "t")).toEqual(new Map([[0, 0n], [4, 9n]]));
  });

  it("accepts a saved offset equal to either end", () => {
    expect(startingOffsets(new Map([[0, 10n], [1, 30n]]), [10n, 0n], [20n, 30n], "earliest", "t")).toEqual(new Map([[0, 10n], [1, 30n]]));
  });

  it("refuses a saved offset that retention deleted, saying how many messages were lost and what to do", () => {
    expect(() => startingOffsets(new Map([[0, 4n]]), [10n], [20n], "earliest", "clicks")).toThrow(
      /saved offset 4 of topic "clicks" partition 0 is before the earliest offset Kafka still holds \(10\): retention deleted 6 messages.*Raise the topic's retention/,
    );
  });

  it("refuses a saved offset past the end (another or a recreated topic)", () => {
    expect(() => startingOffsets(new Map([[0, 21n]]), [0n], [20n], "earliest", "clicks")).toThrow(/after its latest offset \(20\): the topic was recreated/);
  });

  it("covers every partition of the topic and every saved one (property)", () => {
    fc.assert(
      fc.property(offsets, fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: 1000n })), { maxLength: 8 }), (saved, ranges) => {
        const earliest = ranges.map(([a, b]) => (a < b ? a : b));
        const latest = ranges.map(([a, b]) => (a < b ? b : a));
        // Keep only saved offsets the broker can honour, for the partitions it lists.
        const valid = new Map([...saved].filter(([p, o]) => p >= ranges.length || (o >= (earliest[p] ?? 0n) && o <= (latest[p] ?? 0n))));
        const begin = startingOffsets(valid, earliest, latest, "earliest", "t");
        for (let p = 0; p < ranges.length; p++) expect(begin.get(p)).toBe(valid.get(p) ?? earliest[p]);
        for (const [p, o] of valid) expect(begin.get(p)).toBe(o);
        expect(begin.size).toBe(new Set([...valid.keys(), ...ranges.keys()]).size);
      }),
    );
  });
});

describe("kafka positions: commits", () => {
  it("sends the partitions that moved forward, for the partitions assigned", () => {
    const target = new Map([[0, 10n], [1, 5n], [2, 7n]]);
    expect(offsetsToCommit(target, new Map([[0, 10n], [1, 3n]]), undefined)).toEqual([
      { partition: 1, offset: 5n },
      { partition: 2, offset: 7n },
    ]);
    expect(offsetsToCommit(target, new Map(), new Set([2, 0]))).toEqual([
      { partition: 0, offset: 10n },
      { partition: 2, offset: 7n },
    ]);
  });

  it("never goes backwards", () => {
    expect(offsetsToCommit(new Map([[0, 3n]]), new Map([[0, 10n]]), undefined)).toEqual([]);
  });

  it("is idempotent: a commit applied, the same position sends nothing (property)", () => {
    fc.assert(
      fc.property(offsets, offsets, fc.option(fc.uniqueArray(partition), { nil: undefined }), (target, committed, assigned) => {
        const owned = assigned === undefined ? undefined : new Set(assigned);
        const sent = offsetsToCommit(target, committed, owned);
        const after = new Map(committed);
        for (const { partition: p, offset: o } of sent) {
          expect(owned === undefined || owned.has(p)).toBe(true);
          expect(o).toBe(target.get(p));
          expect(committed.get(p) === undefined || o > (committed.get(p) ?? 0n)).toBe(true);
          after.set(p, o);
        }
        expect(offsetsToCommit(target, after, owned)).toEqual([]);
      }),
    );
  });

  it("counts acknowledged messages from the last commit, or from where reading started", () => {
    const sent = [
      { partition: 0, offset: 20n },
      { partition: 1, offset: 8n },
      { partition: 2, offset: 4n },
    ];
    // p0: committed 12 → 8 more; p1: started at 5 → 3; p2: neither known → 0.
    expect(acknowledgedCount(sent, new Map([[0, 12n]]), new Map([[0, 0n], [1, 5n]]))).toBe(11);
  });

  it("counts each message once however a position is committed in steps (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 10 }), (steps) => {
        const started = new Map([[0, 100n]]);
        const committed = new Map<number, bigint>();
        let total = 0;
        let at = 100n;
        for (const s of steps) {
          at += BigInt(s);
          const sent = offsetsToCommit(new Map([[0, at]]), committed, undefined);
          total += acknowledgedCount(sent, committed, started);
          for (const c of sent) committed.set(c.partition, c.offset);
        }
        expect(total).toBe(Number(at - 100n));
      }),
    );
  });
});

describe("kafka positions: lag", () => {
  it("sums high watermark minus position over the partitions given", () => {
    expect(lagOf([15n, 40n, 7n], new Map([[0, 5n], [1, 40n], [2, 2n]]), [0, 1, 2])).toBe(15);
    expect(lagOf([15n, 40n, 7n], new Map([[0, 5n], [1, 40n], [2, 2n]]), [2])).toBe(5);
  });

  it("never counts below zero, counts a partition without a position from 0, and ignores unknown partitions", () => {
    expect(lagOf([10n], new Map([[0, 12n]]), [0])).toBe(0);
    expect(lagOf([10n, 6n], new Map(), [1])).toBe(6);
    expect(lagOf([10n], new Map([[0, 2n]]), [0, 0, 9])).toBe(8);
  });

  it("drops to 0 once every message up to the watermarks is read (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 1n << 40n }), { maxLength: 10 }), (highs) => {
        const read = new Map(highs.map((h, p) => [p, h]));
        expect(lagOf(highs, read, read.keys())).toBe(0);
        const fromStart = new Map(highs.map((_, p) => [p, 0n]));
        expect(lagOf(highs, fromStart, fromStart.keys())).toBe(Number(highs.reduce((a, b) => a + b, 0n)));
      }),
    );
  });
});
