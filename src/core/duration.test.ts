import { describe, expect, it } from "vitest";
import { DurationError } from "../errors.js";
import { formatDuration, parseDuration } from "./duration.js";

describe("parseDuration", () => {
  it("reads units into milliseconds", () => {
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("2w")).toBe(1_209_600_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration(42)).toBe(42);
  });
  it("refuses anything else with a typed error", () => {
    for (const bad of ["1 hour", "h", "-1h", "0s", "", 0, -5, 1.5, Number.NaN, null, "1y"]) {
      expect(() => parseDuration(bad)).toThrow(DurationError);
    }
    expect(() => parseDuration("1 hour")).toThrow(/"1 hour".*"7d"/);
  });
  it("formats the shortest exact unit", () => {
    expect(formatDuration(3_600_000)).toBe("1h");
    expect(formatDuration(90_000)).toBe("90s");
    expect(formatDuration(1_500)).toBe("1500ms");
    expect(formatDuration(86_400_000)).toBe("1d");
  });
});
