import { encodeKey } from "../core/keys.js";
import type { StringCodes } from "../core/stringCodes.js";
import type { Row } from "../plan/nodes.js";

/**
 * Fills, for each row, its key's code (keyCode of the encoded key's index in
 * `keys`; `miss` registers new ones) and the aggregated fields' values (NaN
 * for null). The cache of StringCodes makes the lookup of a few hundred keys
 * cheaper than a Map's.
 */
export type ExtractColumns = (
  rows: readonly Row[],
  keys: StringCodes,
  keyCode: readonly number[],
  miss: (row: Row, key: string) => number,
  codes: Int32Array,
  cols: Float64Array[],
) => void;

/** Generated per table so that every field read has a constant name (much faster than row[name] with a variable name). */
export function compileExtract(keyFields: readonly string[], fields: readonly string[]): ExtractColumns {
  const read = (f: string): string => `r[${JSON.stringify(f)}]`;
  // The same string as encodeKey(): String() of each key field, joined by the separator.
  const key =
    keyFields.length === 1
      ? `{ const k = ${read(keyFields[0] as string)}; key = typeof k === "string" ? k : String(k); }`
      : `key = ${keyFields.map((f) => `String(${read(f)})`).join(` + ${JSON.stringify(encodeKey(["", ""]))} + `)};`;
  const body = [
    ...fields.map((_, f) => `const c${f} = cols[${f}];`),
    "for (let i = 0; i < rows.length; i++) {",
    "  const r = rows[i]; let key;",
    `  ${key}`,
    "  let c = keyCode[keys.code(key)]; if (c === undefined) c = miss(r, key);",
    "  codes[i] = c;",
    ...fields.map((f, j) => `  { const v = ${read(f)}; c${j}[i] = typeof v === "number" ? v : NaN; }`),
    "}",
  ].join("\n");
  try {
    return new Function("rows", "keys", "keyCode", "miss", "codes", "cols", `${body}\n//# sourceURL=freshet-generated/partition-extract.js`) as ExtractColumns;
  } catch {
    // Code generation disabled: the same, interpreted.
    return (rows, keys, keyCode, miss, codes, cols) => {
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i] as Row;
        const key = encodeKey(keyFields.map((f) => r[f]));
        codes[i] = keyCode[keys.code(key)] ?? miss(r, key);
        fields.forEach((f, j) => {
          const v = r[f];
          (cols[j] as Float64Array)[i] = typeof v === "number" ? v : Number.NaN;
        });
      }
    };
  }
}
