import { describe, expect, it } from "vitest";
import { toEpochMs } from "./time.js";

describe("toEpochMs", () => {
  it("reads text without a zone as UTC", () => {
    expect(toEpochMs("2001-03-01T12:00:00")).toBe(Date.UTC(2001, 2, 1, 12));
    expect(toEpochMs("2001-03-01 12:00")).toBe(Date.UTC(2001, 2, 1, 12));
    expect(toEpochMs("2001-03-01")).toBe(Date.UTC(2001, 2, 1));
  });
  it("normalises offsets to UTC, with millisecond precision", () => {
    expect(toEpochMs("2001-03-01T12:00:00Z")).toBe(Date.UTC(2001, 2, 1, 12));
    expect(toEpochMs("2001-03-01T12:00:00+02:00")).toBe(Date.UTC(2001, 2, 1, 10));
    expect(toEpochMs("2001-03-01T12:00:00-0530")).toBe(Date.UTC(2001, 2, 1, 17, 30));
    expect(toEpochMs("2001-03-01T12:00:00.123456Z")).toBe(Date.UTC(2001, 2, 1, 12, 0, 0, 123));
    // A DST edge in the US: the offset written in the text decides, not the machine's zone.
    expect(toEpochMs("2021-03-14T03:30:00-04:00")).toBe(Date.UTC(2021, 2, 14, 7, 30));
  });
  it("takes Dates, epoch ms and bigints", () => {
    expect(toEpochMs(new Date(5))).toBe(5);
    expect(toEpochMs(1234)).toBe(1234);
    expect(toEpochMs(1234n)).toBe(1234);
    expect(toEpochMs("1234")).toBe(1234);
  });
  it("returns undefined for what is not an instant", () => {
    for (const bad of ["yesterday", "2001-02-30", "2001-13-01", "2001-03-01T25:00", "", new Date(Number.NaN), Number.POSITIVE_INFINITY, {}, null, true]) {
      expect(toEpochMs(bad)).toBeUndefined();
    }
  });
});
