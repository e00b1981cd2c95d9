import { parseFields } from "../core/fieldCheck.js";
import type { AnyOnDemand } from "../dsl/onDemand.js";
import type { AnyTable } from "../dsl/table.js";
import { SchemaError } from "../errors.js";
import type { Row } from "../plan/nodes.js";

/** Reads one input table for all rows at their read times (online or point-in-time). */
export type TableReader = (table: AnyTable, rows: readonly Row[]) => Promise<Row[]>;

/**
 * Runs an on-demand feature over rows: parses each row's request fields,
 * reads every input table for the rows' keys, then calls `compute` with the
 * request fields, the features and the row's read time, and checks what it
 * returns against the output schema.
 */
export async function computeOnDemand(f: AnyOnDemand, rows: readonly Row[], timeOf: (i: number) => number, read: TableReader): Promise<Row[]> {
  const requests = rows.map((r, i) => parseFields(f.request, r, `on-demand feature "${f.name}", request row ${i}`, i));
  const inputs: Row[] = rows.map((_, i) => ({ ...(requests[i] as Row) }));
  for (const table of f.inputs) {
    const features = await read(table, rows);
    features.forEach((feat, i) => Object.assign(inputs[i] as Row, feat));
  }
  const keyFields = [...new Set(f.inputs.flatMap((t) => t.root.keys))];
  return rows.map((r, i) => {
    const out = f.compute(inputs[i] as Row, timeOf(i));
    if (typeof out !== "object" || out === null) {
      throw new SchemaError(`on-demand feature "${f.name}" returned ${out === null ? "null" : typeof out} for row ${i}; compute must return an object`, { row: i });
    }
    const result: Row = {};
    for (const k of keyFields) result[k] = r[k];
    Object.assign(result, parseFields(f.output, out as Row, `on-demand feature "${f.name}", result for row ${i}`, i));
    return result;
  });
}

