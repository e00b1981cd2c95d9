import { createConnection, type Connection, type ConnectionOptions, type RowDataPacket } from "mysql2/promise";
import { mysqlAddress } from "../../core/databaseUrl.js";
import { mysqlIdent as quote } from "./identifiers.js";
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

export interface MysqlTableSourceOptions extends TableSourceOptions {
  /** mysql://user:password@host:3306/database (MariaDB or MySQL) */
  readonly url: string;
}

/**
 * A MariaDB/MySQL table as a stream: the rows already in it in cursor order,
 * then rows added later, found by polling (see keysetPoller.ts for the
 * reading and its known limit). The position is the text of the last row's
 * cursor values (DATETIME/TIMESTAMP as ISO-8601 UTC with microseconds,
 * integers and decimals exactly).
 *
 * The session runs in UTC, so DATETIME values are read as UTC and TIMESTAMP
 * values are converted to UTC. DECIMAL columns arrive as numbers unless
 * `decimalsAsText`; BIGINT as numbers, or as text beyond 2^53 (the driver's
 * choice, kept so no digit is lost). TINYINT(1) is a number, not a boolean.
 */
export function mysqlTableSource(o: MysqlTableSourceOptions): StreamSource {
  checkTableOptions("mysqlTableSource", o);
  return new KeysetTableSource(new MysqlDialect(o), o);
}


const CURSOR_KINDS: Readonly<Record<string, CursorKind>> = {
  tinyint: "integer",
  smallint: "integer",
  mediumint: "integer",
  int: "integer",
  bigint: "integer",
  decimal: "decimal",
  datetime: "timestamp",
  timestamp: "timestamp",
  date: "date",
  char: "text",
  varchar: "text",
};

interface MyColumn extends CatalogColumn {
  /** How a saved text is read back to the column's type in a comparison. */
  readonly param: string;
}

type Param = string | number;

class MysqlDialect implements KeysetDialect {
  readonly kind = "mysql";
  readonly system = "MariaDB/MySQL";
  readonly address: string;
  readonly tableName: string;
  private conn: Connection | undefined;
  private lost: unknown;
  private relation = "";
  private selectList = "";
  private order = "";
  private cursor: readonly MyColumn[] = [];
  private settle = "";

  constructor(private readonly o: MysqlTableSourceOptions) {
    this.address = mysqlAddress(o.url);
    this.tableName = o.schema === undefined ? quote(o.table) : `${quote(o.schema)}.${quote(o.table)}`;
  }

  async connect(): Promise<void> {
    const conn = await createConnection(mysqlConnectionOptions(this.o.url, this.o.decimalsAsText === true));
    this.conn = conn;
    this.lost = undefined;
    // A connection the server drops emits "error" between queries; unheard, it would end the process.
    // The next query fails with it instead, and the job reopens the source from its checkpoint.
    conn.on("error", (err: unknown) => {
      this.lost = err;
    });
    await conn.query("SET time_zone = '+00:00'");
  }

  async describe(): Promise<TableCatalog | undefined> {
    const db = this.db();
    const [tables] = await db.query<RowDataPacket[]>(
      "SELECT TABLE_SCHEMA AS db, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
      [this.o.schema ?? null, this.o.table],
    );
    const found = tables[0];
    if (found === undefined) return undefined;
    const schema = String(found.db);
    this.relation = `${quote(schema)}.${quote(this.o.table)}`;
    const [cols] = await db.query<RowDataPacket[]>(
      `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, IS_NULLABLE AS nullable,
              NUMERIC_PRECISION AS p, NUMERIC_SCALE AS s
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [schema, this.o.table],
    );
    const [parts] = await db.query<RowDataPacket[]>(
      `SELECT INDEX_NAME AS idx, COLUMN_NAME AS col FROM information_schema.STATISTICS
       WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
      [schema, this.o.table],
    );
    const keys = new Map<string, string[]>();
    const expressions = new Set<string>();
    for (const part of parts) {
      const idx = String(part.idx);
      // A functional key part has no column: such an index says nothing about the cursor columns.
      if (part.col === null) expressions.add(idx);
      else keys.set(idx, [...(keys.get(idx) ?? []), String(part.col)]);
    }
    const columns: MyColumn[] = cols.map((c) => {
      const dataType = String(c.dataType).toLowerCase();
      const columnType = String(c.columnType).toLowerCase();
      return {
        name: String(c.name),
        type: columnType,
        nullable: c.nullable === "YES",
        cursorKind: CURSOR_KINDS[dataType],
        param: paramOf(dataType, columnType, Number(c.p), Number(c.s)),
      };
    });
    const uniqueKeys = [...keys].filter(([idx]) => !expressions.has(idx)).map(([, cols]) => cols);
    return { relation: String(found.type) === "VIEW" ? "view" : "table", columns, uniqueKeys };
  }

  prepare(plan: TablePlan): void {
    this.cursor = plan.cursor as readonly MyColumn[];
    const cursorText = addedCursorColumns(plan, this.cursor).map((c) => `${textOf(c)} AS ${quote(`__freshet_cursor_${c.name}`)}`);
    this.selectList = [...plan.columns.map((c) => quote(c.name)), ...cursorText].join(", ");
    this.order = this.cursor.map((c) => quote(c.name)).join(", ");
    const first = this.cursor[0];
    if (plan.settleMs > 0 && first !== undefined) this.settle = `${quote(first.name)} <= UTC_TIMESTAMP(6) - INTERVAL ${plan.settleMs * 1000} MICROSECOND`;
  }

  async fetch(after: CursorValues | null, limit: number): Promise<ReadonlyArray<readonly unknown[]>> {
    const { where, params } = this.where(after, true);
    const [rows] = await this.db().query<RowDataPacket[][]>({ sql: `SELECT ${this.selectList} FROM ${this.relation}${where} ORDER BY ${this.order} LIMIT ${limit}`, rowsAsArray: true }, params);
    return rows;
  }

  async count(after: CursorValues | null): Promise<number> {
    const { where, params } = this.where(after, false);
    const [rows] = await this.db().query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${this.relation}${where}`, params);
    return Number(rows[0]?.n ?? 0);
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    if (conn !== undefined) await conn.end().catch(() => conn.destroy());
  }

  /**
   * The keyset condition spelled out, c1 >= p1 AND (c1 > p1 OR (c1 = p1 AND c2 > p2)),
   * so that every MariaDB and MySQL version reads it as a range of an index
   * starting with the cursor columns (not all optimise a row comparison).
   */
  private where(after: CursorValues | null, settled: boolean): { where: string; params: Param[] } {
    const params: Param[] = [];
    const conditions: string[] = [];
    if (after !== null) {
      const value = (i: number): string => {
        const c = this.cursor[i] as MyColumn;
        params.push(toSqlText(c, after[i] as string));
        return c.param;
      };
      const name = (i: number): string => quote((this.cursor[i] as MyColumn).name);
      const rest = (i: number): string => {
        const gt = `${name(i)} > ${value(i)}`;
        if (i === this.cursor.length - 1) return gt;
        return `${gt} OR (${name(i)} = ${value(i)} AND (${rest(i + 1)}))`;
      };
      conditions.push(`${name(0)} >= ${value(0)} AND (${rest(0)})`);
    }
    if (settled && this.settle !== "") conditions.push(this.settle);
    return { where: conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : "", params };
  }

  private db(): Connection {
    if (this.lost !== undefined) throw this.lost;
    if (this.conn === undefined) throw new Error("not connected");
    return this.conn;
  }
}

/** The exact text of a cursor value (DATETIME/TIMESTAMP in the session's UTC; the poller rewrites the last one as ISO-8601). */
function textOf(c: MyColumn): string {
  return `CAST(${quote(c.name)} AS CHAR)`;
}

/** A saved text as the server reads it back: DATETIME literals take a space and no zone. */
function toSqlText(c: MyColumn, text: string): string {
  return c.cursorKind === "timestamp" ? text.replace("T", " ").replace(/Z$/, "") : text;
}

/** The parameter of a comparison with the column, cast to its type so numbers compare as numbers, not as doubles. */
function paramOf(dataType: string, columnType: string, precision: number, scale: number): string {
  switch (CURSOR_KINDS[dataType]) {
    case "integer":
      return columnType.includes("unsigned") ? "CAST(? AS UNSIGNED)" : "CAST(? AS SIGNED)";
    case "decimal":
      return `CAST(? AS DECIMAL(${precision}, ${scale}))`;
    case "timestamp":
      return "CAST(? AS DATETIME(6))";
    case "date":
      return "CAST(? AS DATE)";
    default:
      return "?";
  }
}

/**
 * How Freshet connects to MySQL/MariaDB and reads its values (the table and
 * binlog sources alike): DATETIME values are UTC (the session zone makes
 * TIMESTAMP values UTC too), BIGINT beyond 2^53 is text, DECIMAL a number
 * unless asked for text.
 */
export function mysqlConnectionOptions(url: string, decimalsAsText: boolean): ConnectionOptions {
  return {
    uri: url,
    connectTimeout: 10_000,
    timezone: "Z",
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: !decimalsAsText,
  };
}
