import { describe, expect, it } from "vitest";
import { RequestError } from "../../errors.js";
import { cellFromText, cellFromTuple, encodeCell, isEpoch, replaces, validateWrite } from "./featureCell.js";
import type { FeatureValue, OnlineWrite, WriteOptions } from "./onlineStore.js";

const T = 1_700_000_000_000;

describe("cell encoding", () => {
  it("writes [writtenAt, eventTime, value] without an epoch or with epoch 0, and appends an epoch > 0", () => {
    expect(encodeCell({ a: [1] }, T, T - 5)).toBe(`[${T},${T - 5},{"a":[1]}]`);
    expect(encodeCell(null, T, T - 5, 0)).toBe(`[${T},${T - 5},null]`);
    expect(encodeCell("x", T, T - 5, 7)).toBe(`[${T},${T - 5},"x",7]`);
    expect(encodeCell([1, 2], T, T - 5, Number.MAX_SAFE_INTEGER)).toBe(`[${T},${T - 5},[1,2],${Number.MAX_SAFE_INTEGER}]`);
  });

  it("decodes both forms, with epoch 0 for a cell that has none", () => {
    for (const [text, value, epoch] of [
      [encodeCell("x", T, T - 5), "x", 0],
      [encodeCell("x", T, T - 5, 7), "x", 7],
      [encodeCell([1, 2, 3], T, T - 5, 1), [1, 2, 3], 1],
      [`[${T},${T - 5},null,0]`, null, 0],
    ] as const) {
      const cell = cellFromText(text);
      expect(cell).toEqual({ value, status: value === null ? "NULL_VALUE" : "PRESENT", eventTime: T - 5 });
      expect(cell?.epoch).toBe(epoch);
      // The epoch, like the write time, is not part of the served read.
      expect(JSON.parse(JSON.stringify(cell)) as unknown).toEqual({ value, status: value === null ? "NULL_VALUE" : "PRESENT", eventTime: T - 5 });
    }
  });

  it("keeps the write time of either form: the TTL counts from it", () => {
    const cell = cellFromText(encodeCell(5, T, T - 100, 3));
    expect(cell?.readAt(T + 10, 10)).toEqual({ value: 5, status: "PRESENT", eventTime: T - 100 });
    expect(cell?.readAt(T + 11, 10)).toEqual({ value: null, status: "OUTSIDE_MAX_AGE", eventTime: T - 100 });
  });

  it("refuses tuples that are not cells, including bad epochs", () => {
    const bad: FeatureValue[] = [
      [T, T],
      [T, T, 1, 2, 3],
      ["x", T, 1],
      [T, "y", 1],
      [T, T, 1, -1],
      [T, T, 1, 1.5],
      [T, T, 1, "2"],
      [T, T, 1, null],
      [T, T, 1, 2 ** 53],
      { 0: T, 1: T, 2: 1 },
      "text",
    ];
    for (const tuple of bad) expect(cellFromTuple(tuple)).toBeUndefined();
    expect(cellFromText("[1,2")).toBeUndefined();
  });
});

describe("event-time order", () => {
  it("replaces when (eventTime, epoch) is >= the stored pair, in lexicographic order", () => {
    expect(replaces(10, 0, 9, 5)).toBe(true);
    expect(replaces(9, 5, 10, 0)).toBe(false);
    expect(replaces(10, 2, 10, 1)).toBe(true);
    expect(replaces(10, 1, 10, 2)).toBe(false);
    expect(replaces(10, 1, 10, 1)).toBe(true);
    expect(replaces(-5.5, 0, -5.5, 0)).toBe(true);
  });

  it("asks the stored cell, which counts a missing epoch as 0", () => {
    const plain = cellFromText(encodeCell(1, T, 100));
    expect(plain?.yieldsTo(100, 0)).toBe(true);
    expect(plain?.yieldsTo(99, 9)).toBe(false);
    const withEpoch = cellFromText(encodeCell(1, T, 100, 4));
    expect(withEpoch?.yieldsTo(100, 3)).toBe(false);
    expect(withEpoch?.yieldsTo(100, 4)).toBe(true);
    expect(withEpoch?.yieldsTo(101, 0)).toBe(true);
  });

  it("knows an epoch when it sees one", () => {
    expect([0, 1, 2 ** 53 - 1].map(isEpoch)).toEqual([true, true, true]);
    expect([-1, 0.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, "1", null, undefined].map(isEpoch)).toEqual(Array(8).fill(false));
  });
});

describe("validateWrite", () => {
  const rejects = (rows: readonly OnlineWrite[], options: WriteOptions): unknown => {
    try {
      validateWrite("ns", rows, options);
      return undefined;
    } catch (error) {
      return error;
    }
  };

  it("accepts epochs and both orders", () => {
    expect(rejects([{ key: "u1", features: { a: 1 }, epoch: 0 }, { key: "u2", features: {}, epoch: 12 }], { now: T, order: "event-time" })).toBeUndefined();
    expect(rejects([{ key: "u1", features: { a: 1 }, epoch: 3 }], { now: T, order: "write" })).toBeUndefined();
  });

  it("names the row of an invalid epoch", () => {
    const error = rejects([{ key: "u1", features: { a: 1 } }, { key: "u2", features: { a: 1 }, epoch: -2 }], { now: T });
    expect(error).toBeInstanceOf(RequestError);
    expect(error).toMatchObject({ code: "INVALID_REQUEST", details: { field: "rows[1].epoch" } });
    expect(error instanceof Error ? error.message : "").toBe(
      'Online write to namespace "ns": the epoch of row 1 (key "u2") must be a whole number >= 0 (a checkpoint epoch), got -2; nothing of this write was stored. (field "rows[1].epoch")',
    );
  });

  it("names an unknown order", () => {
    const order = "newest" as unknown as "write";
    const error = rejects([], { now: T, order });
    expect(error).toMatchObject({ code: "INVALID_REQUEST", details: { field: "order" } });
    expect(error instanceof Error ? error.message : "").toBe('The write order must be "write" or "event-time", got "newest". (field "order")');
  });
});
