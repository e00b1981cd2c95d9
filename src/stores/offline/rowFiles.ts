import { writeFile } from "node:fs/promises";
import { extname } from "node:path";
import { stringify } from "csv-stringify/sync";
import { parquetWriteFile, type ColumnSource } from "hyparquet-writer";
import type { Row } from "../../core/schema.js";
import { DefinitionError, StorageError } from "../../errors.js";

/** The columns of rows, in first-seen order. */
function columnNames(rows: readonly Row[]): string[] {
  const names = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) names.add(k);
  return [...names];
}

/** A cell as text/number/boolean: lists and objects become JSON, Dates ISO text. */
function cell(v: unknown): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v);
}

/** One Parquet column: DOUBLE when every non-null value is a number, BOOLEAN for booleans, STRING otherwise. */
function parquetColumn(name: string, rows: readonly Row[]): ColumnSource {
  const data = rows.map((r) => cell(r[name]));
  const kinds = new Set(data.filter((v) => v !== null).map((v) => typeof v));
  if (kinds.size === 1 && kinds.has("number")) return { name, data, type: "DOUBLE", nullable: true };
  if (kinds.size === 1 && kinds.has("boolean")) return { name, data, type: "BOOLEAN", nullable: true };
  return { name, data: data.map((v) => (v === null ? null : String(v))), type: "STRING", nullable: true };
}

/**
 * Writes rows to a Parquet (.parquet) or CSV (.csv) file, by extension.
 * Timestamps stay epoch milliseconds (DOUBLE in Parquet); lists are JSON text.
 */
export async function writeRows(path: string, rows: readonly Row[]): Promise<void> {
  const ext = extname(path).toLowerCase();
  const names = columnNames(rows);
  try {
    if (ext === ".parquet") {
      await parquetWriteFile({ filename: path, columnData: names.map((n) => parquetColumn(n, rows)) });
    } else if (ext === ".csv") {
      await writeFile(path, stringify(rows.map((r) => names.map((n) => cell(r[n]))), { header: true, columns: names, cast: { boolean: (b) => String(b) } }));
    } else {
      throw new DefinitionError(`cannot write ${path}: use a .parquet or .csv file`, { file: path });
    }
  } catch (cause) {
    if (cause instanceof DefinitionError) throw cause;
    throw new StorageError(`cannot write ${path}: ${(cause as Error).message}`, { cause });
  }
}
