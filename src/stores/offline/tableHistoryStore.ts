/**
 * The offline store for derived feature tables: each table's full history,
 * one row per (key, event time) with the features as of that time, written by
 * materializeOffline and read by time range and keys (getOffline).
 *
 * Implementations: memory (memoryTableHistory.ts), Parquet files queried with
 * DuckDB (parquetTableHistory.ts, the embedded default), PostgreSQL
 * (postgresTableHistory.ts). All pass test/tableHistory.conformance.ts.
 *
 * The contract every implementation keeps (the helpers below enforce the
 * shared parts, so the stores cannot drift apart):
 * - Column types: "number", "float", "int", "timestamp" and "double" are
 *   numbers (stored as doubles; NaN and null read as null); "string" is text;
 *   "bool"/"boolean" is a boolean; any other type ("value", "json",
 *   "embedding", ...) is any JSON value, stored as JSON text and read back
 *   parsed (so it reads as JSON.parse(JSON.stringify(v)); undefined reads as
 *   null).
 * - Key values are never null (the DSL refuses optional keys) and must fit
 *   their column's type; feature values must fit theirs or be null. A batch
 *   that does not fit is refused whole with a SchemaError naming the table,
 *   column and row, before anything is stored. Event times must be finite.
 * - Column names are unique across keys and features, and none is "ts" (the
 *   output field of the event time) or "__proto__": begin refuses them with a
 *   DefinitionError naming the column.
 * - A table that was never begun (or was dropped): query, append and commit
 *   reject with UnknownTableError; marker reads undefined; drop does nothing.
 * - A query reads every row appended since begin, committed or not.
 * - After close, every call rejects with a StorageError saying so.
 */
import type { Row } from "../../core/schema.js";
import { DefinitionError, RequestError, SchemaError } from "../../errors.js";

export interface TableColumns {
  readonly keys: ReadonlyArray<{ readonly name: string; readonly type: string }>;
  readonly features: ReadonlyArray<{ readonly name: string; readonly type: string }>;
}

/** Rows of one table's history: keys[i] are row i's key values; values[f][i] feature f's value (NaN = null in number columns). */
export interface TableHistoryBatch {
  readonly length: number;
  readonly keys: ReadonlyArray<readonly unknown[]>;
  readonly ts: Float64Array;
  readonly values: ReadonlyArray<ArrayLike<unknown>>;
}

/** start <= ts < end, each optional; keys: key tuples in key column order (absent: all keys; empty: none). */
export interface TableHistoryQuery {
  readonly start?: number;
  readonly end?: number;
  readonly keys?: ReadonlyArray<readonly unknown[]>;
}

export interface TableHistoryStore {
  readonly kind: string;
  /** Starts a new history for the table (drops a previous one), with its columns. DefinitionError for unusable columns. */
  begin(table: string, columns: TableColumns): Promise<void>;
  /** Appends rows (any order; queries sort). SchemaError for rows that do not fit the columns; UnknownTableError before begin. */
  append(table: string, batch: TableHistoryBatch): Promise<void>;
  /** Marks the history complete and names what it was built from (e.g. the sources' history versions); durable when it resolves. */
  commit(table: string, marker: string): Promise<void>;
  /** The marker of the last commit, or undefined (no history, or one begun and not committed). */
  marker(table: string): Promise<string | undefined>;
  /**
   * Rows with start <= ts < end (each optional), of the given keys (all when
   * absent), ordered by ts then append order: objects with the key fields,
   * "ts" (epoch ms) and the features (null for NaN / missing), in that field
   * order. UnknownTableError for a table without a history; RequestError for
   * a query that does not fit the columns (a NaN bound, a key tuple of the
   * wrong length or type).
   */
  query(table: string, q?: TableHistoryQuery): Promise<Row[]>;
  /** Removes the table's history; nothing happens when there is none. */
  drop(table: string): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// The shared rules, used by every implementation.

/** How a column's values are stored and compared. */
export type ColumnKind = "number" | "string" | "bool" | "json";

export function columnKind(type: string): ColumnKind {
  switch (type) {
    case "number":
    case "float":
    case "int":
    case "timestamp":
    case "double":
      return "number";
    case "string":
      return "string";
    case "bool":
    case "boolean":
      return "bool";
    default:
      return "json";
  }
}

/** A stored key value: a number, a string, a boolean, or JSON text for a json key column. */
export type StoredKey = number | string | boolean;

/** One column of a checked batch: numbers in a Float64Array (NaN = null); other kinds as values or null (JSON text for json columns). */
export type StoredColumn = Float64Array | ReadonlyArray<string | boolean | null>;

/** A batch that fits its columns, normalised column by column (a copy: the caller may reuse its buffers). */
export interface CheckedBatch {
  readonly length: number;
  /** Per key column, one value per row. */
  readonly keys: ReadonlyArray<readonly StoredKey[]>;
  readonly ts: Float64Array;
  /** Per feature column. */
  readonly values: readonly StoredColumn[];
}

/** Refuses columns a history cannot hold: duplicate names, "ts", "__proto__". */
export function checkColumns(table: string, columns: TableColumns): void {
  const seen = new Set<string>();
  for (const c of [...columns.keys, ...columns.features]) {
    if (c.name === "ts") {
      throw new DefinitionError(
        `table "${table}": column "ts" clashes with the event time, which history rows carry as "ts"; rename the key or feature`,
        { field: c.name },
      );
    }
    if (c.name === "__proto__") throw new DefinitionError(`table "${table}": a column cannot be named "__proto__"; rename it`, { field: c.name });
    if (seen.has(c.name)) throw new DefinitionError(`table "${table}": column "${c.name}" appears twice among its keys and features`, { field: c.name });
    seen.add(c.name);
  }
}

/** Checks a batch against the table's columns and returns it normalised; SchemaError naming the first value that does not fit. */
export function checkBatch(table: string, columns: TableColumns, batch: TableHistoryBatch): CheckedBatch {
  const n = batch.length;
  const where = `appending to the history of table "${table}"`;
  if (!Number.isSafeInteger(n) || n < 0) throw new SchemaError(`${where}: length ${String(n)} is not a row count`, {});
  if (batch.keys.length !== n) throw new SchemaError(`${where}: ${batch.keys.length} key tuples for ${n} rows`, {});
  if (batch.ts.length < n) throw new SchemaError(`${where}: ${batch.ts.length} event times for ${n} rows`, {});
  if (batch.values.length !== columns.features.length) {
    throw new SchemaError(`${where}: ${batch.values.length} feature columns, the table has ${columns.features.length}`, {});
  }
  const ts = batch.ts.slice(0, n);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(ts[i])) throw new SchemaError(`${where}: event time ${String(ts[i])} is not a finite epoch millisecond`, { row: i });
  }
  for (let i = 0; i < n; i++) {
    const arity = batch.keys[i]?.length ?? 0;
    if (arity !== columns.keys.length) throw new SchemaError(`${where}: the key tuple has ${arity} values, the table has ${columns.keys.length} key columns`, { row: i });
  }
  const keys = columns.keys.map((c, k) => {
    const kind = columnKind(c.type);
    const out = new Array<StoredKey>(n);
    for (let i = 0; i < n; i++) {
      const v = storedKey(kind, batch.keys[i]?.[k]);
      if (v === undefined) throw new SchemaError(`${where}: key ${describe(batch.keys[i]?.[k])} is not a ${c.type}`, { row: i, field: c.name });
      out[i] = v;
    }
    return out;
  });
  const values = columns.features.map((c, f): StoredColumn => {
    const kind = columnKind(c.type);
    const col = batch.values[f];
    if (col === undefined || col.length < n) throw new SchemaError(`${where}: feature column has ${col?.length ?? 0} values for ${n} rows`, { field: c.name });
    return storedColumn(kind, col, n, (i, v) => new SchemaError(`${where}: value ${describe(v)} is not a ${c.type}`, { row: i, field: c.name }));
  });
  return { length: n, keys, ts, values };
}

function storedColumn(kind: ColumnKind, col: ArrayLike<unknown>, n: number, misfit: (row: number, value: unknown) => Error): StoredColumn {
  if (kind === "number") {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = col[i];
      if (typeof v === "number") out[i] = v;
      else if (v === null || v === undefined) out[i] = Number.NaN;
      else throw misfit(i, v);
    }
    return out;
  }
  const out = new Array<string | boolean | null>(n);
  for (let i = 0; i < n; i++) {
    const v = col[i];
    if (v === null || v === undefined) out[i] = null;
    else if (kind === "json") out[i] = jsonText(v, () => misfit(i, v));
    else if (typeof v === (kind === "string" ? "string" : "boolean")) out[i] = v as string | boolean;
    else throw misfit(i, v);
  }
  return out;
}

/** JSON text of a value, null when JSON has no text for it (undefined, a function). */
function jsonText(v: unknown, misfit: () => Error): string | null {
  let text: string | undefined;
  try {
    text = JSON.stringify(v) as string | undefined;
  } catch {
    throw misfit();
  }
  return text === undefined || text === "null" ? null : text;
}

/** The stored form of a key value, or undefined when it does not fit the column (null never does). */
function storedKey(kind: ColumnKind, v: unknown): StoredKey | undefined {
  switch (kind) {
    case "number":
      return typeof v === "number" && !Number.isNaN(v) ? v : undefined;
    case "string":
      return typeof v === "string" ? v : undefined;
    case "bool":
      return typeof v === "boolean" ? v : undefined;
    case "json": {
      if (v === null || v === undefined) return undefined;
      try {
        const text = JSON.stringify(v) as string | undefined;
        return text === undefined || text === "null" ? undefined : text;
      } catch {
        return undefined;
      }
    }
  }
}

/** A query checked against the columns: bounds as numbers (±Infinity when absent), key tuples in stored form. */
export interface CheckedQuery {
  readonly start: number;
  readonly end: number;
  /** Per key column, the wanted values (tuple i is keys[0][i], keys[1][i], ...); undefined for all keys. */
  readonly keys: ReadonlyArray<readonly StoredKey[]> | undefined;
  /** True when no row can match (an empty key list, or start >= end): stores answer [] without reading. */
  readonly none: boolean;
}

export function checkQuery(table: string, columns: TableColumns, q: TableHistoryQuery = {}): CheckedQuery {
  const where = `query of the history of table "${table}"`;
  const bound = (name: "start" | "end", absent: number): number => {
    const v: unknown = q[name];
    if (v === undefined) return absent;
    if (typeof v !== "number" || Number.isNaN(v)) throw new RequestError(`${where}: ${name} must be epoch milliseconds, got ${describe(v)}`, { field: name });
    return v;
  };
  const start = bound("start", Number.NEGATIVE_INFINITY);
  const end = bound("end", Number.POSITIVE_INFINITY);
  const empty = !(start < end);
  if (q.keys === undefined) return { start, end, keys: undefined, none: empty };
  const tuples = q.keys;
  tuples.forEach((tuple, i) => {
    if (tuple.length !== columns.keys.length) {
      throw new RequestError(`${where}: key tuple has ${tuple.length} values, the table's keys are ${columns.keys.map((c) => c.name).join(", ") || "(none)"}`, {
        field: `keys[${i}]`,
      });
    }
  });
  const keys = columns.keys.map((c, k) => {
    const kind = columnKind(c.type);
    return tuples.map((tuple, i) => {
      const v = storedKey(kind, tuple[k]);
      if (v === undefined) throw new RequestError(`${where}: key ${describe(tuple[k])} is not a ${c.type} (column "${c.name}")`, { field: `keys[${i}][${k}]` });
      return v;
    });
  });
  // A keyless table: any key tuple (necessarily empty) matches every row.
  return { start, end, keys: columns.keys.length === 0 ? undefined : keys, none: empty || tuples.length === 0 };
}

/** A stored feature value as a row carries it: null for NaN and null, JSON parsed. */
export function readValue(kind: ColumnKind, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (kind === "number") return typeof v === "number" && Number.isNaN(v) ? null : v;
  if (kind === "json") return typeof v === "string" ? (JSON.parse(v) as unknown) : v;
  return v;
}

/** A stored key value as a row carries it (JSON keys parsed). */
export function readKey(kind: ColumnKind, v: unknown): unknown {
  return kind === "json" && typeof v === "string" ? (JSON.parse(v) as unknown) : v;
}

/** Identity of a stored key tuple, for in-process matching (JSON keys are already text). */
export function keyIdentity(values: readonly StoredKey[]): string {
  return JSON.stringify(values);
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return String(v);
  return typeof v;
}
