/**
 * Event time is UTC epoch milliseconds everywhere inside Freshet. These parse
 * what users hand in (Date, epoch ms, ISO-8601 text) into that.
 */

// ISO-8601 date, optional time, optional zone. Without a zone the text is UTC.
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Returns epoch ms, or undefined when the value is not a readable instant. */
export function toEpochMs(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (typeof value === "bigint") return toEpochMs(Number(value));
  if (typeof value === "string") return parseIsoUtc(value.trim());
  return undefined;
}

function parseIsoUtc(text: string): number | undefined {
  const m = ISO.exec(text);
  if (m === null) {
    // Plain integers in text are epoch milliseconds.
    return /^-?\d+$/.test(text) ? Number(text) : undefined;
  }
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000 + 1e-9);
  let epoch = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Date.UTC rolls over invalid days (Feb 30 → Mar 2); reject those.
  if (new Date(epoch).getUTCDate() !== day) return undefined;
  if (zone !== undefined && zone.toUpperCase() !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || "0");
    epoch -= sign * offsetMin * 60_000;
  }
  return epoch;
}
