import { Bool, Float64, Table, Utf8, vectorFromArray, type Vector } from "apache-arrow";
import type { Row } from "../../core/schema.js";

/**
 * Rows as an Apache Arrow table, one column per field in first-seen order:
 * Float64 when every non-null value is a number, Bool for booleans, Utf8
 * otherwise (lists and objects as JSON text). Nulls stay nulls.
 */
export function rowsToArrow(rows: readonly Row[]): Table {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) if (!seen.has(k)) (seen.add(k), names.push(k));
  const columns: Record<string, Vector> = {};
  for (const name of names) {
    const values = rows.map((r) => (r[name] === undefined || (typeof r[name] === "number" && Number.isNaN(r[name])) ? null : r[name]));
    const kinds = new Set(values.filter((v) => v !== null).map((v) => typeof v));
    if (kinds.size === 1 && kinds.has("number")) columns[name] = vectorFromArray(values as Array<number | null>, new Float64());
    else if (kinds.size === 1 && kinds.has("boolean")) columns[name] = vectorFromArray(values as Array<boolean | null>, new Bool());
    else columns[name] = vectorFromArray(values.map((v) => (v === null ? null : typeof v === "string" ? v : v instanceof Date ? v.toISOString() : JSON.stringify(v))), new Utf8());
  }
  return new Table(columns);
}
