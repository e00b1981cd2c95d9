import type { Connection, RowDataPacket } from "mysql2/promise";
import type { BinlogKey, BinlogPoint } from "./binlogPosition.js";
import { mysqlIdent as quote } from "./identifiers.js";

/**
 * The rows a table holds at one binlog point, read in primary-key order in
 * batches, for the binlog source's snapshot.
 *
 * Consistency: `START TRANSACTION WITH CONSISTENT SNAPSHOT` opens an InnoDB
 * read view, and in that transaction MariaDB reports the binlog point the
 * view matches (status `binlog_snapshot_file` / `binlog_snapshot_position`,
 * taken under the binlog's commit lock, as `mariadb-dump --single-transaction
 * --master-data` uses it). Every transaction committed before that point is in
 * the rows, none after it is, so streaming the binlog from that point misses
 * and repeats nothing. No lock is taken, so writers never wait. MySQL has no
 * such status; there the snapshot would need FLUSH TABLES WITH READ LOCK (a
 * global lock, the RELOAD privilege), which this source does not take: on
 * MySQL use `snapshot: false`.
 *
 * The read view lasts as long as the transaction, so each batch is one keyset
 * query on the primary key (WHERE key > last ORDER BY key LIMIT n) in it. If
 * the process dies mid-snapshot, the view is gone; the source takes a new one
 * for the rows after the last key handed out, and records a window so the
 * binlog changes to the rows already read are still handed out (see
 * binlogPosition.ts and the source's open).
 */
export interface SnapshotKeyColumn {
  readonly name: string;
  readonly unsigned: boolean;
}

export class BinlogSnapshot {
  private after: BinlogKey | null;
  private done = false;
  private readonly select: string;
  private readonly order: string;
  /** Where each key column's value sits in a fetched row array. */
  private readonly keyAt: readonly number[];

  private constructor(
    private readonly conn: Connection,
    private readonly relation: string,
    private readonly columns: readonly string[],
    private readonly key: readonly SnapshotKeyColumn[],
    after: BinlogKey | null,
  ) {
    this.after = after;
    // Integers arrive exact (beyond 2^53 as text), so a key column's own value gives its text; one not selected is added.
    const list = columns.map(quote);
    this.keyAt = key.map((k) => {
      const at = columns.indexOf(k.name);
      if (at >= 0) return at;
      list.push(quote(k.name));
      return list.length - 1;
    });
    this.select = list.join(", ");
    this.order = key.map((k) => quote(k.name)).join(", ");
  }

  /**
   * Opens the read view on `conn` (which it then owns until `finish`) and
   * returns the binlog point it matches, or undefined when the server does not
   * report one (MySQL).
   */
  static async start(
    conn: Connection,
    relation: string,
    columns: readonly string[],
    key: readonly SnapshotKeyColumn[],
    after: BinlogKey | null,
  ): Promise<{ snapshot: BinlogSnapshot; at: BinlogPoint } | undefined> {
    await conn.query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    await conn.query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
    const [status] = await conn.query<RowDataPacket[]>("SHOW STATUS LIKE 'binlog_snapshot_%'");
    const value = (name: string): unknown => status.find((r) => String(r.Variable_name).toLowerCase() === name)?.Value;
    const file = value("binlog_snapshot_file");
    const pos = Number(value("binlog_snapshot_position"));
    if (typeof file !== "string" || file === "" || !Number.isSafeInteger(pos)) {
      await conn.query("ROLLBACK");
      return undefined;
    }
    return { snapshot: new BinlogSnapshot(conn, relation, columns, key, after), at: { file, pos } };
  }

  /** The next rows in key order (at most `limit`) and the key of the last row read; none once every row was read. */
  async fetch(limit: number): Promise<{ rows: Array<Record<string, unknown>>; last: BinlogKey | null }> {
    if (this.done) return { rows: [], last: this.after };
    const { where, params } = this.where();
    const [raw] = await this.conn.query<RowDataPacket[][]>({ sql: `SELECT ${this.select} FROM ${this.relation}${where} ORDER BY ${this.order} LIMIT ${limit}`, rowsAsArray: true }, params);
    const names = this.columns;
    const width = names.length;
    const rows: Array<Record<string, unknown>> = new Array(raw.length);
    for (let r = 0; r < raw.length; r++) {
      const values = raw[r] as unknown[];
      const row: Record<string, unknown> = {};
      for (let i = 0; i < width; i++) row[names[i] as string] = values[i];
      rows[r] = row;
    }
    if (raw.length < limit) this.done = true;
    const last = raw[raw.length - 1] as unknown[] | undefined;
    if (last !== undefined) this.after = this.keyAt.map((at) => String(last[at]));
    return { rows, last: this.after };
  }

  /** True once a fetch came back short: no row is left. */
  get finished(): boolean {
    return this.done;
  }

  /** Ends the read-only transaction. */
  async finish(): Promise<void> {
    this.done = true;
    await this.conn.query("COMMIT");
  }

  /** key > after, spelled out column by column so any server reads it as a range of the primary key. */
  private where(): { where: string; params: string[] } {
    const after = this.after;
    if (after === null) return { where: "", params: [] };
    const params: string[] = [];
    const name = (i: number): string => quote((this.key[i] as SnapshotKeyColumn).name);
    const value = (i: number): string => {
      params.push(after[i] as string);
      return (this.key[i] as SnapshotKeyColumn).unsigned ? "CAST(? AS UNSIGNED)" : "CAST(? AS SIGNED)";
    };
    const rest = (i: number): string => {
      const gt = `${name(i)} > ${value(i)}`;
      if (i === this.key.length - 1) return gt;
      return `${gt} OR (${name(i)} = ${value(i)} AND (${rest(i + 1)}))`;
    };
    return { where: ` WHERE ${rest(0)}`, params };
  }
}
