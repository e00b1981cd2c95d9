import { messageOf } from "../../core/errorMessage.js";
import { DefinitionError, FreshetError, SourceError } from "../../errors.js";
import { checkNextArgs, type SourcePosition, type StreamBatch, type StreamSource, type StreamSourceStats } from "../stream/streamSource.js";

/**
 * The part of a table source both databases share: a table read in the order
 * of an increasing cursor (one or more columns whose values, together, are
 * unique), first the rows already there (the snapshot), then new rows as
 * polling finds them. Each read is one keyset query
 *
 *   WHERE (c1, c2) > (last c1, last c2) ORDER BY c1, c2 LIMIT n
 *
 * so ties on c1 across a batch boundary are neither lost nor repeated, a read
 * never depends on how many rows came before, and a saved position reopens
 * exactly after the last row handed out.
 *
 * Known limit of polling: a row is found only if its cursor is greater than
 * the last one handed out. A transaction that takes its cursor value (a
 * timestamp or a sequence number) and commits after a later transaction has
 * committed, and been read, is never seen. `settleMs` holds back rows whose
 * timestamp cursor is younger than that many milliseconds on the database's
 * clock; it must exceed the longest time between a row taking its cursor value
 * and its commit. Rows updated in place are read again only when the update
 * moves their cursor forward (an `updated_at` the writer sets); deletes are
 * never seen. Change data capture (logical replication, binlog) has neither
 * limit and is not what this is.
 */

/** Options every table source takes. */
export interface TableSourceOptions {
  /** The table (or view) to read, by its name in the database, unquoted. */
  readonly table: string;
  /** Its schema (PostgreSQL) or database (MySQL); the connection's current one when omitted. */
  readonly schema?: string;
  /**
   * The columns that order the reading, most significant first: an increasing
   * column (a timestamp or serial), then a unique tie-breaker, e.g.
   * `["updated_at", "id"]`. One column is enough when it is unique itself.
   * A unique index must cover the cursor columns (a primary key, say), and
   * for speed an index should start with them. They must be NOT NULL.
   */
  readonly cursor: string | readonly string[];
  /** The columns each row carries (default: all of them, in table order). */
  readonly columns?: readonly string[];
  /** How often to look for new rows while `next` waits, in ms (default 500). */
  readonly pollMs?: number;
  /** Most rows one query fetches (default 10,000); `next(maxRows)` asks for at most this many. */
  readonly batch?: number;
  /**
   * Hands out only rows whose first cursor column (a timestamp) is at least
   * this many ms older than the database's clock, so transactions that commit
   * late within that time are not missed (default 0: no holding back).
   */
  readonly settleMs?: number;
  /** Timestamp and date columns as Dates (default, as the driver reads them), ISO-8601 text or epoch ms. */
  readonly timestamps?: "date" | "iso" | "ms";
  /** DECIMAL/NUMERIC columns as exact text instead of numbers (default false: numbers). */
  readonly decimalsAsText?: boolean;
}

/** How a column can order a cursor. Floats, JSON, binary and the like cannot. */
export type CursorKind = "integer" | "decimal" | "timestamp" | "date" | "text";

export interface CatalogColumn {
  readonly name: string;
  /** The type as the database names it, for messages and casts. */
  readonly type: string;
  readonly nullable: boolean;
  /** undefined when the column cannot be a cursor column. */
  readonly cursorKind: CursorKind | undefined;
}

/** What the database says about the table, read at open. */
export interface TableCatalog {
  /** Views have no indexes, so the uniqueness of their cursor is the user's word. */
  readonly relation: "table" | "view";
  readonly columns: readonly CatalogColumn[];
  /** The columns of each unique index or primary key (without partial or expression indexes). */
  readonly uniqueKeys: ReadonlyArray<readonly string[]>;
}

/** The columns a source hands out and orders by, checked against the catalog. */
export interface TablePlan {
  readonly columns: readonly CatalogColumn[];
  readonly cursor: readonly CatalogColumn[];
  /**
   * Per cursor column: the index of a selected column whose value, as the
   * driver hands it out, gives the exact text (integers, text); or -1 when the
   * query must add the column's text (timestamps, dates, decimals, or a column
   * not selected).
   */
  readonly cursorFrom: readonly number[];
  readonly settleMs: number;
}

/** The cursor columns (the plan's, as the dialect typed them) a query must add as text, in cursor order. */
export function addedCursorColumns<C extends CatalogColumn>(plan: TablePlan, cursor: readonly C[]): C[] {
  return cursor.filter((_, i) => plan.cursorFrom[i] === -1);
}

/** A cursor position as the database writes it: one exact text per cursor column. */
export type CursorValues = readonly string[];

/** What each database does for a table source: connect, describe, and the two queries. */
export interface KeysetDialect {
  /** "postgres", "mysql". */
  readonly kind: string;
  /** "PostgreSQL", "MariaDB/MySQL": named in every error. */
  readonly system: string;
  /** host:port/database, without credentials. */
  readonly address: string;
  /** The table as the database names it, quoted for messages. */
  readonly tableName: string;
  connect(): Promise<void>;
  /** The table's columns and unique keys, or undefined when there is no such table. */
  describe(): Promise<TableCatalog | undefined>;
  /** Builds the queries for this plan; called once after describe. */
  prepare(plan: TablePlan): void;
  /**
   * Up to `limit` rows after `after` (from the start when null) in cursor
   * order, each as an array: the plan's columns, then the text of each of
   * `addedCursorColumns(plan)`.
   */
  fetch(after: CursorValues | null, limit: number): Promise<ReadonlyArray<readonly unknown[]>>;
  /** Rows after `after`, settled or not. */
  count(after: CursorValues | null): Promise<number>;
  close(): Promise<void>;
}

const DEFAULT_POLL_MS = 500;
const DEFAULT_BATCH = 10_000;
/** Handed-out positions remembered for counting commits; a job that never commits does not grow memory. */
const MAX_PENDING = 4_096;

/** Checks the options both table sources take; throws a DefinitionError naming the bad one. */
export function checkTableOptions(source: string, o: TableSourceOptions): void {
  const named = (what: string, field: string, v: unknown): void => {
    if (typeof v !== "string" || v === "" || v.includes("\0")) throw new DefinitionError(`${source}: ${what} must be a non-empty name, got ${JSON.stringify(v)}`, { field });
  };
  named("table", "table", o.table);
  if (o.schema !== undefined) named("schema", "schema", o.schema);
  const cursor = cursorList(o.cursor);
  if (cursor.length === 0) throw new DefinitionError(`${source}: cursor must name at least one column, e.g. ["updated_at", "id"]`, { field: "cursor" });
  cursor.forEach((c) => named("each cursor column", "cursor", c));
  if (new Set(cursor).size !== cursor.length) throw new DefinitionError(`${source}: cursor names a column twice: ${cursor.join(", ")}`, { field: "cursor" });
  if (o.columns !== undefined) {
    if (o.columns.length === 0) throw new DefinitionError(`${source}: columns, when given, must name at least one column`, { field: "columns" });
    o.columns.forEach((c) => named("each column", "columns", c));
  }
  const positive = (what: "pollMs" | "batch" | "settleMs", v: number | undefined, min: number): void => {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) throw new DefinitionError(`${source}: ${what} must be a whole number >= ${min}, got ${v}`, { field: what });
  };
  positive("pollMs", o.pollMs, 1);
  positive("batch", o.batch, 1);
  positive("settleMs", o.settleMs, 0);
  if (o.timestamps !== undefined && !["date", "iso", "ms"].includes(o.timestamps)) {
    throw new DefinitionError(`${source}: timestamps must be "date", "iso" or "ms", got ${JSON.stringify(o.timestamps)}`, { field: "timestamps" });
  }
}

export function cursorList(cursor: string | readonly string[]): readonly string[] {
  return typeof cursor === "string" ? [cursor] : cursor;
}

type FetchResult = { readonly ok: true; readonly rows: ReadonlyArray<readonly unknown[]> } | { readonly ok: false; readonly error: unknown };

interface FetchAhead {
  /** The position the query reads after: the source's own position array when it was started, so a match is the same object. */
  readonly after: CursorValues | null;
  readonly limit: number;
  readonly result: Promise<FetchResult>;
}

/** A StreamSource over a table, reading by keyset: the polling loop both databases share. */
export class KeysetTableSource implements StreamSource {
  readonly kind: string;
  readonly description: string;
  readonly text = false;
  private readonly pollMs: number;
  private readonly batch: number;
  private readonly cursorNames: readonly string[];
  private position: CursorValues | null = null;
  private opened = false;
  private names: readonly string[] = [];
  /** Where each cursor value sits in a fetched row (a selected column, or a text the query added). */
  private cursorAt: readonly number[] = [];
  /** Which cursor columns are timestamps, whose text the position writes as ISO-8601. */
  private cursorTimestamps: readonly boolean[] = [];
  /** Names of the columns whose Date values the `timestamps` option converts. */
  private temporal: readonly string[] = [];
  private read = 0;
  private committed = 0;
  /** The query for the batch after the last one handed out, started before it was asked for. */
  private ahead: FetchAhead | undefined;
  /** (position key, rows read up to it) for each batch handed out and not yet committed. */
  private pending: Array<{ key: string; read: number }> = [];

  constructor(
    private readonly dialect: KeysetDialect,
    private readonly o: TableSourceOptions,
  ) {
    this.kind = dialect.kind;
    this.pollMs = o.pollMs ?? DEFAULT_POLL_MS;
    this.batch = o.batch ?? DEFAULT_BATCH;
    this.cursorNames = cursorList(o.cursor);
    this.description = `${dialect.system} ${dialect.address} table ${dialect.tableName} by (${this.cursorNames.join(", ")})`;
  }

  async open(from: SourcePosition | undefined): Promise<void> {
    const start = from === undefined || from === null ? null : this.parsePosition(from);
    await this.close();
    let plan: TablePlan;
    try {
      await this.call("connecting", () => this.dialect.connect());
      const catalog = await this.call("reading the table's columns", () => this.dialect.describe());
      plan = this.plan(catalog);
      this.dialect.prepare(plan);
    } catch (err) {
      // Nothing stays connected after a failed open; close() stays safe to call.
      await this.dialect.close().catch(() => undefined);
      throw err;
    }
    this.names = plan.columns.map((c) => c.name);
    this.cursorTimestamps = plan.cursor.map((c) => c.cursorKind === "timestamp");
    let added = plan.columns.length;
    this.cursorAt = plan.cursorFrom.map((i) => (i >= 0 ? i : added++));
    this.temporal = this.o.timestamps === undefined || this.o.timestamps === "date" ? [] : plan.columns.flatMap((c) => (c.cursorKind === "timestamp" || c.cursorKind === "date" ? [c.name] : []));
    this.position = start;
    this.ahead = undefined;
    this.pending = [];
    this.read = 0;
    this.committed = 0;
    this.opened = true;
  }

  async next(maxRows: number, maxWaitMs: number): Promise<StreamBatch> {
    checkNextArgs(this.kind, maxRows, maxWaitMs);
    if (!this.opened) throw new SourceError(`${this.dialect.system} table source: next() before open()`);
    const limit = Math.min(maxRows, this.batch);
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const raw = await this.fetch(limit);
      if (raw.length > 0) {
        const batch = this.handOut(raw);
        // A full batch means the snapshot goes on: ask for the next one now, so
        // the database works while the job processes this one.
        if (raw.length === limit) this.ahead = this.startFetch(this.position, limit);
        return batch;
      }
      const left = deadline - Date.now();
      if (left <= 0) return { rows: [], position: this.position };
      await sleep(Math.min(this.pollMs, left));
    }
  }

  /** The rows after the current position: the batch fetched ahead when it is for this position and size, else a new query. */
  private async fetch(limit: number): Promise<ReadonlyArray<readonly unknown[]>> {
    const ahead = this.ahead;
    this.ahead = undefined;
    const pending = ahead !== undefined && ahead.after === this.position && ahead.limit === limit ? ahead : this.startFetch(this.position, limit);
    const result = await pending.result;
    if (result.ok) return result.rows;
    throw result.error;
  }

  /** Starts a query whose failure is kept (not thrown) until someone reads it. */
  private startFetch(after: CursorValues | null, limit: number): FetchAhead {
    const result = this.call("reading rows", () => this.dialect.fetch(after, limit)).then(
      (rows): FetchResult => ({ ok: true, rows }),
      (error: unknown): FetchResult => ({ ok: false, error }),
    );
    return { after, limit, result };
  }

  async commit(position: SourcePosition): Promise<void> {
    // null is the position before the first row: nothing to count.
    if (position === null) return;
    const values = this.parsePosition(position);
    // Nothing to acknowledge in a table: the position lives in the job's
    // checkpoint. Counting needs the batch it ended; older ones are done.
    const key = JSON.stringify(values);
    const at = this.pending.findIndex((p) => p.key === key);
    if (at < 0) return;
    const entry = this.pending[at];
    if (entry !== undefined && entry.read > this.committed) this.committed = entry.read;
    this.pending.splice(0, at + 1);
  }

  async lag(): Promise<number | undefined> {
    if (!this.opened) return undefined;
    const after = this.position;
    return this.call("counting unread rows", () => this.dialect.count(after));
  }

  stats(): StreamSourceStats {
    return { read: this.read, committed: this.committed };
  }

  async close(): Promise<void> {
    this.opened = false;
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead !== undefined) await ahead.result;
    await this.dialect.close();
  }

  private handOut(raw: ReadonlyArray<readonly unknown[]>): StreamBatch {
    const names = this.names;
    const width = names.length;
    const rows: Array<Record<string, unknown>> = new Array(raw.length);
    for (let r = 0; r < raw.length; r++) {
      const values = raw[r] as readonly unknown[];
      const row: Record<string, unknown> = {};
      for (let i = 0; i < width; i++) row[names[i] as string] = values[i];
      rows[r] = row;
    }
    if (this.temporal.length > 0) convertTimestamps(rows, this.temporal, this.o.timestamps === "ms");
    const last = raw[raw.length - 1] as readonly unknown[];
    const position = this.cursorAt.map((at, i) => {
      const v = String(last[at]);
      return this.cursorTimestamps[i] === true ? isoCursorText(v) : v;
    });
    this.position = position;
    this.read += rows.length;
    this.pending.push({ key: JSON.stringify(position), read: this.read });
    if (this.pending.length > MAX_PENDING) this.pending.splice(0, this.pending.length - MAX_PENDING);
    return { rows, position };
  }

  /** Checks the catalog against the options: every named column exists, the cursor can order and is unique. */
  private plan(catalog: TableCatalog | undefined): TablePlan {
    const { system, address, tableName } = this.dialect;
    const where = `${system} ${address}`;
    if (catalog === undefined) throw new SourceError(`${where}: table ${tableName} does not exist (check the table and schema options, and the database in the URL)`);
    const byName = new Map(catalog.columns.map((c) => [c.name, c]));
    const known = catalog.columns.map((c) => c.name).join(", ");
    const column = (name: string, role: string): CatalogColumn => {
      const c = byName.get(name);
      if (c === undefined) throw new SourceError(`${where}: table ${tableName} has no ${role} column "${name}" (its columns: ${known})`);
      return c;
    };
    const cursor = this.cursorNames.map((n) => column(n, "cursor"));
    for (const c of cursor) {
      if (c.cursorKind === undefined) {
        throw new SourceError(`${where}: cursor column "${c.name}" of ${tableName} has type ${c.type}, which cannot order a cursor; use an integer, decimal, timestamp, date or text column`);
      }
      if (c.nullable) {
        throw new SourceError(`${where}: cursor column "${c.name}" of ${tableName} allows NULL, and rows with a NULL cursor would never be read; declare it NOT NULL`);
      }
    }
    if (catalog.relation === "table") {
      const inCursor = new Set(this.cursorNames);
      if (!catalog.uniqueKeys.some((key) => key.length > 0 && key.every((k) => inCursor.has(k)))) {
        throw new SourceError(
          `${where}: the cursor (${this.cursorNames.join(", ")}) of ${tableName} is not unique, so rows with equal values could be lost or read twice; ` +
            `add a unique tie-breaker column, e.g. cursor: ["${this.cursorNames[0] ?? "updated_at"}", "id"], where a primary key or unique index covers the cursor columns`,
        );
      }
    }
    const settleMs = this.o.settleMs ?? 0;
    const first = cursor[0];
    if (settleMs > 0 && first?.cursorKind !== "timestamp") {
      throw new SourceError(`${where}: settleMs needs a timestamp as the first cursor column; "${first?.name}" of ${tableName} is ${first?.type}`);
    }
    const columns = this.o.columns === undefined ? catalog.columns : this.o.columns.map((n) => column(n, "selected"));
    // Integers and text arrive exact (int8 beyond 2^53 as a BigInt or text),
    // so their own value gives the position and the query adds nothing per row.
    const cursorFrom = cursor.map((c) => (c.cursorKind === "integer" || c.cursorKind === "text" ? columns.indexOf(c) : -1));
    return { columns, cursor, cursorFrom, settleMs };
  }

  private parsePosition(p: SourcePosition): CursorValues {
    const n = this.cursorNames.length;
    if (!Array.isArray(p) || p.length !== n || !p.every((v): v is string => typeof v === "string")) {
      throw new SourceError(`${this.dialect.system} table source: a position is ${n} text value(s), one per cursor column (${this.cursorNames.join(", ")}), got ${JSON.stringify(p)}`);
    }
    return p;
  }

  /** Runs a database call; a driver error becomes a SourceError naming the system, the address and what failed. */
  private async call<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (cause) {
      if (cause instanceof FreshetError) throw cause;
      const { system, address, tableName } = this.dialect;
      throw new SourceError(`${system} ${address}: ${what} failed (table ${tableName}): ${messageOf(cause)}`, {}, { cause });
    }
  }
}

function convertTimestamps(rows: Array<Record<string, unknown>>, names: readonly string[], ms: boolean): void {
  for (const row of rows) {
    for (const name of names) {
      const v = row[name];
      if (v instanceof Date && !Number.isNaN(v.getTime())) row[name] = ms ? v.getTime() : v.toISOString();
    }
  }
}

/**
 * A timestamp's text as both databases write it in a UTC session
 * ("2024-01-01 00:00:05.0001+00", "2024-01-01 00:00:05.000100") as
 * ISO-8601 UTC with all six fraction digits, which both read back exactly.
 * Text of another shape (BC years, infinity) is kept as the database wrote it.
 */
export function isoCursorText(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(?:\+00|Z)?$/.exec(text);
  if (m === null) return text;
  return `${m[1]}T${m[2]}.${(m[3] ?? "").padEnd(6, "0")}Z`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
