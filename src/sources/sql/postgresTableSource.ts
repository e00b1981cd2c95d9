import postgres from "postgres";
import { postgresAddress } from "../../core/databaseUrl.js";
import { postgresIdent as quote } from "./identifiers.js";
import type { StreamSource } from "../stream/streamSource.js";
import {
  addedCursorColumns,
  checkTableOptions,
  KeysetTableSource,
  type CatalogColumn,
  type CursorKind,
  type CursorValues,
  type KeysetDialect,
  type TableCatalog,
  type TablePlan,
  type TableSourceOptions,
} from "./keysetPoller.js";

export interface PostgresTableSourceOptions extends TableSourceOptions {
  /** postgres://user@host:5432/database */
  readonly url: string;
}

/**
 * A PostgreSQL table as a stream: the rows already in it in cursor order,
 * then rows added later, found by polling (see keysetPoller.ts for the
 * reading and its known limit). The position is the text of the last row's
 * cursor values (timestamps as ISO-8601 UTC with microseconds, integers and
 * decimals exactly), so it survives JSON and loses nothing.
 *
 * Values: bigint as numbers (as JS BigInt beyond 2^53), numeric as numbers
 * unless `decimalsAsText`, timestamp (without time zone) read as UTC.
 */
export function postgresTableSource(o: PostgresTableSourceOptions): StreamSource {
  checkTableOptions("postgresTableSource", o);
  return new KeysetTableSource(new PostgresDialect(o), o);
}

type Sql = ReturnType<typeof openPostgresClient>;

/** What a client of openPostgresClient may differ in. */
export interface PostgresClientSession {
  readonly applicationName?: string;
  /** Called when the connection closes (the driver then opens a new one for the next query). */
  readonly onclose?: () => void;
  /** Never close the connection for its age (the driver does after 30 to 60 minutes): it holds a transaction. */
  readonly keepConnection?: boolean;
}

/**
 * A one-connection client whose values are read as Freshet reads them (the
 * logical replication source reads its snapshot and parses streamed values
 * with the same client, so both sources hand out the same types).
 */
export function openPostgresClient(url: string, decimalsAsText: boolean, session: PostgresClientSession = {}) {
  const { applicationName = "freshet table source", onclose, keepConnection = false } = session;
  return postgres(url, {
    ...(onclose === undefined ? {} : { onclose }),
    ...(keepConnection ? { max_lifetime: null } : {}),
    max: 1,
    connect_timeout: 10,
    onnotice: () => undefined,
    // Fixed session settings, so the text forms of timestamps the cursor
    // saves and reads back mean the same thing whatever the server's defaults.
    connection: { TimeZone: "UTC", DateStyle: "ISO, YMD", application_name: applicationName },
    types: {
      bigint: { to: 20, from: [20], serialize: (x: unknown) => String(x), parse: parseInt8 },
      numeric: { to: 1700, from: [1700], serialize: (x: unknown) => String(x), parse: decimalsAsText ? (x: string) => x : (x: string) => Number(x) },
      // Timestamps without a zone are UTC in Freshet; the driver would read them in the process's zone.
      utcTimestamp: { to: 1114, from: [1114], serialize: (x: unknown) => (x instanceof Date ? x.toISOString() : String(x)), parse: (x: string) => new Date(`${x.replace(" ", "T")}Z`) },
    },
  });
}

/** Type names of the columns that can order a cursor (domains are read through to their base type). */
const CURSOR_KINDS: Readonly<Record<string, CursorKind>> = {
  int2: "integer",
  int4: "integer",
  int8: "integer",
  numeric: "decimal",
  timestamptz: "timestamp",
  timestamp: "timestamp",
  date: "date",
  text: "text",
  varchar: "text",
  bpchar: "text",
  uuid: "text",
};

interface PgColumn extends CatalogColumn {
  readonly base: string;
}

class PostgresDialect implements KeysetDialect {
  readonly kind = "postgres";
  readonly system = "PostgreSQL";
  readonly address: string;
  readonly tableName: string;
  private sql: Sql | undefined;
  private relation = "";
  private selectList = "";
  private order = "";
  private afterCondition = "";
  private settle = "";

  constructor(private readonly o: PostgresTableSourceOptions) {
    this.address = postgresAddress(o.url);
    this.tableName = o.schema === undefined ? quote(o.table) : `${quote(o.schema)}.${quote(o.table)}`;
  }

  async connect(): Promise<void> {
    const sql = openPostgresClient(this.o.url, this.o.decimalsAsText === true);
    this.sql = sql;
    await sql`SELECT 1`;
  }

  async describe(): Promise<TableCatalog | undefined> {
    const sql = this.db();
    const rel = await sql<Array<{ oid: number; schema: string; relkind: string }>>`
      SELECT c.oid, n.nspname AS schema, c.relkind::text AS relkind
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname = ${this.o.table} AND n.nspname = coalesce(${this.o.schema ?? null}::text, current_schema())
        AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`;
    const found = rel[0];
    if (found === undefined) return undefined;
    this.relation = `${quote(found.schema)}.${quote(this.o.table)}`;
    const cols = await sql<Array<{ name: string; type: string; base: string; notnull: boolean }>>`
      SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
             CASE WHEN t.typtype = 'd' THEN (SELECT b.typname FROM pg_type b WHERE b.oid = t.typbasetype) ELSE t.typname END AS base
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = ${found.oid} AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`;
    const keys = await sql<Array<{ cols: string[] }>>`
      SELECT array_agg(a.attname::text ORDER BY k.ord) AS cols
      FROM pg_index i
      CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = ${found.oid} AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND k.ord <= i.indnkeyatts
      GROUP BY i.indexrelid`;
    const columns: PgColumn[] = cols.map((c) => ({ name: c.name, type: c.type, base: c.base, nullable: !c.notnull, cursorKind: CURSOR_KINDS[c.base] }));
    const relation = found.relkind === "v" || found.relkind === "f" ? "view" : "table";
    return { relation, columns, uniqueKeys: keys.map((k) => k.cols) };
  }

  prepare(plan: TablePlan): void {
    const cursor = plan.cursor as readonly PgColumn[];
    const cursorText = addedCursorColumns(plan, cursor).map((c) => `${textOf(c)} AS ${quote(`__freshet_cursor_${c.name}`)}`);
    this.selectList = [...plan.columns.map((c) => quote(c.name)), ...cursorText].join(", ");
    this.order = cursor.map((c) => quote(c.name)).join(", ");
    // A row comparison, which an index on the cursor columns serves as one range.
    // Parameters go in as text (the driver would round a timestamp parameter
    // to milliseconds) and the server casts them to the column's type.
    this.afterCondition = `(${this.order}) > (${cursor.map((c, i) => `$${i + 1}::text::${c.type}`).join(", ")})`;
    const first = cursor[0];
    if (plan.settleMs > 0 && first !== undefined) {
      const now = first.base === "timestamptz" ? "clock_timestamp()" : "(clock_timestamp() AT TIME ZONE 'UTC')";
      this.settle = `${quote(first.name)} <= ${now} - interval '1 millisecond' * ${plan.settleMs}`;
    }
  }

  async fetch(after: CursorValues | null, limit: number): Promise<ReadonlyArray<readonly unknown[]>> {
    const conditions = [after === null ? "" : this.afterCondition, this.settle].filter((c) => c !== "");
    const where = conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : "";
    const params: Array<string | number> = after === null ? [] : [...after];
    params.push(limit);
    const query = `SELECT ${this.selectList} FROM ${this.relation}${where} ORDER BY ${this.order} LIMIT $${params.length}`;
    return this.db().unsafe(query, params, { prepare: true }).values();
  }

  async count(after: CursorValues | null): Promise<number> {
    const where = after === null ? "" : ` WHERE ${this.afterCondition}`;
    const rows = await this.db().unsafe(`SELECT count(*) AS n FROM ${this.relation}${where}`, after === null ? [] : [...after], { prepare: true });
    return Number(rows[0]?.n ?? 0);
  }

  async close(): Promise<void> {
    const sql = this.sql;
    this.sql = undefined;
    if (sql !== undefined) await sql.end({ timeout: 5 });
  }

  private db(): Sql {
    if (this.sql === undefined) throw new Error("not connected");
    return this.sql;
  }
}

/**
 * The exact text of a cursor value, which a cast to the column's type
 * (format_type's name, quoted where needed) reads back. Timestamps come out in
 * the session's UTC (the poller rewrites the last one as ISO-8601); the plain
 * output function costs a fraction of to_char on every row.
 */
function textOf(c: PgColumn): string {
  return `${quote(c.name)}::text`;
}

/** int8 as a number when exact, as a BigInt beyond 2^53 (RowParser reads both). */
function parseInt8(x: string): number | bigint {
  const n = Number(x);
  return Number.isSafeInteger(n) ? n : BigInt(x);
}
