import { SchemaError } from "../errors.js";
import type { FieldType, Row, Schema } from "./schema.js";
import { toEpochMs } from "./time.js";

/**
 * The schema's fields of a row, checked and converted (timestamps to epoch
 * ms). `what` names the row in errors, e.g. `request row 3`.
 */
export function parseFields(schema: Schema, row: Row, what: string, i: number): Row {
  const out: Row = {};
  for (const [field, ft] of Object.entries(schema)) {
    const v = row[field];
    if (v === null || v === undefined) {
      if (!ft.nullable) throw new SchemaError(`${what}: required ${ft.kind} field "${field}" is missing`, { row: i, field });
      out[field] = null;
      continue;
    }
    const ok = check(ft, v);
    if (ok === undefined) throw new SchemaError(`${what}: ${ft.kind} field "${field}" does not fit: ${JSON.stringify(v)}`, { row: i, field });
    out[field] = ok;
  }
  return out;
}

function check(ft: FieldType, v: unknown): unknown {
  switch (ft.kind) {
    case "string":
      return typeof v === "string" ? v : undefined;
    case "bool":
      return typeof v === "boolean" ? v : undefined;
    case "float":
      return typeof v === "number" && Number.isFinite(v) ? v : undefined;
    case "int":
      return typeof v === "number" && Number.isInteger(v) ? v : undefined;
    case "timestamp":
      return toEpochMs(v);
  }
}
