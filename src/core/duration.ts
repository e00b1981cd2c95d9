import { DurationError } from "../errors.js";

/** A duration: milliseconds, or a string such as "500ms", "30s", "15m", "1h", "7d", "2w". */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h" | "d" | "w"}`;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/;

/** Parses a duration into whole milliseconds; throws DurationError on anything else. */
export function parseDuration(input: unknown): number {
  let ms: number;
  if (typeof input === "number") {
    ms = input;
  } else if (typeof input === "string") {
    const m = PATTERN.exec(input);
    const unit = m?.[2];
    if (m === null || unit === undefined) throw new DurationError(input);
    ms = Number(m[1]) * (UNIT_MS[unit] ?? Number.NaN);
  } else {
    throw new DurationError(input);
  }
  if (!Number.isFinite(ms) || ms <= 0 || !Number.isInteger(ms)) throw new DurationError(input);
  return ms;
}

/** The shortest exact text for a millisecond duration ("1h", "90s", "1500ms"). */
export function formatDuration(ms: number): string {
  for (const unit of ["w", "d", "h", "m", "s"] as const) {
    const size = UNIT_MS[unit] ?? 1;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
