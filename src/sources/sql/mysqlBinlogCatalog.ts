import type { Connection, RowDataPacket } from "mysql2/promise";
import type { BinlogPoint } from "./binlogPosition.js";
import type { SnapshotKeyColumn } from "./mysqlBinlogSnapshot.js";

/** What the binlog source learns about its table at open. */
export interface BinlogTable {
  readonly schema: string;
  readonly columns: readonly string[];
  /** The primary key's columns, in key order, when every one is an integer; undefined otherwise. */
  readonly integerKey: readonly SnapshotKeyColumn[] | undefined;
  /** Why there is no integer key, for the message when a snapshot needs one. */
  readonly keyProblem: string;
  /**
   * MariaDB JSON columns: text in the binlog, parsed by the driver in a query
   * (it learns the format from the result's metadata), so the binlog rows
   * parse them too to hand out the same values.
   */
  readonly jsonColumns: readonly string[];
}

const INTEGER_TYPES = new Set(["tinyint", "smallint", "mediumint", "int", "bigint"]);

/** The table's columns and primary key, or undefined when there is no such base table. */
export async function describeBinlogTable(conn: Connection, schema: string | undefined, table: string): Promise<BinlogTable | undefined> {
  const [tables] = await conn.query<RowDataPacket[]>(
    "SELECT TABLE_SCHEMA AS db FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND TABLE_TYPE = 'BASE TABLE'",
    [schema ?? null, table],
  );
  const found = tables[0];
  if (found === undefined) return undefined;
  const db = String(found.db);
  const [cols] = await conn.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, COLUMN_KEY AS columnKey
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [db, table],
  );
  const [keyParts] = await conn.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS col FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`,
    [db, table],
  );
  const byName = new Map(cols.map((c) => [String(c.name), c]));
  let keyProblem = "";
  const key: SnapshotKeyColumn[] = [];
  if (keyParts.length === 0) keyProblem = "it has no primary key";
  for (const part of keyParts) {
    const c = byName.get(String(part.col));
    const dataType = String(c?.dataType ?? "").toLowerCase();
    if (c === undefined || !INTEGER_TYPES.has(dataType)) {
      keyProblem = `its primary key column "${String(part.col)}" is ${dataType || "not a column"}, not an integer`;
      break;
    }
    key.push({ name: String(c.name), unsigned: String(c.columnType).toLowerCase().includes("unsigned") });
  }
  const [, fields] = await conn.query(`SELECT * FROM \`${db.replace(/`/g, "``")}\`.\`${table.replace(/`/g, "``")}\` LIMIT 0`);
  const jsonColumns = fields.filter((f) => (f as { extendedFormat?: unknown }).extendedFormat === "json").map((f) => f.name);
  return { schema: db, columns: cols.map((c) => String(c.name)), integerKey: keyProblem === "" ? key : undefined, keyProblem, jsonColumns };
}

/** The server settings row-based change capture needs, each as a problem to fix; none when all is well. */
export async function binlogSettingProblems(conn: Connection): Promise<string[]> {
  const [rows] = await conn.query<RowDataPacket[]>("SELECT @@GLOBAL.log_bin AS logBin, @@GLOBAL.binlog_format AS format, @@GLOBAL.binlog_row_image AS image");
  const row: Record<string, unknown> = rows[0] ?? {};
  const problems: string[] = [];
  if (Number(row.logBin) !== 1) problems.push("binary logging is off (log_bin = OFF): start the server with --log-bin (and a --server-id)");
  const format = String(row.format).toUpperCase();
  if (format !== "ROW") problems.push(`binlog_format is ${format}, so changes may be logged as statements: set binlog_format = ROW`);
  const image = String(row.image).toUpperCase();
  if (image !== "FULL") problems.push(`binlog_row_image is ${image}, so updates carry only some columns: set binlog_row_image = FULL`);
  return problems;
}

/** The end of the binlog now: where a reader that wants only new changes starts. */
export async function binlogEnd(conn: Connection): Promise<BinlogPoint> {
  let rows: RowDataPacket[];
  try {
    [rows] = await conn.query<RowDataPacket[]>("SHOW MASTER STATUS");
  } catch {
    // MySQL 8.4 renamed it.
    [rows] = await conn.query<RowDataPacket[]>("SHOW BINARY LOG STATUS");
  }
  const row = rows[0];
  if (row === undefined) throw new Error("SHOW MASTER STATUS returned no row: binary logging is off, or the user lacks REPLICATION CLIENT (BINLOG MONITOR on MariaDB)");
  return { file: String(row.File), pos: Number(row.Position) };
}
