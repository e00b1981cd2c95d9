import { SourceError } from "../../errors.js";
import type { ReplicationPosition } from "./replicationPosition.js";
import { postgresIdent as quoteIdent } from "./identifiers.js";
import { type ReplicatedColumn, type ReplicatedTable, type Sql } from "./replicationSetup.js";

export interface SnapshotBatch {
  /** Rows as the table source's client reads them. */
  readonly rows: Array<Record<string, unknown>>;
  /** The position after the last row: with `snapshotAfter` while rows remain, without once the snapshot is done. */
  readonly position: ReplicationPosition;
  /** True when this batch ends the snapshot (it may be empty). */
  readonly done: boolean;
}

/**
 * The rows of the table as an exported snapshot sees them, read in primary
 * key order by keyset (WHERE (key) > (last key) ORDER BY key LIMIT n) inside
 * one REPEATABLE READ transaction that imported the snapshot. Reading by key
 * is what makes an interrupted snapshot resumable: the rest is "keys after
 * the last one handed out", from a new snapshot (see replicationPosition.ts).
 */
export class ReplicationSnapshot {
  private after: readonly string[];
  private inTransaction = false;
  /** closes() when the transaction began: any close since means the snapshot is gone. */
  private closesAtBegin = 0;
  private readonly selectList: string;
  private readonly order: string;
  private readonly afterCondition: string;

  constructor(
    private readonly sql: Sql,
    private readonly table: ReplicatedTable,
    private readonly columns: readonly ReplicatedColumn[],
    private readonly at: ReplicationPosition,
    /** How many times the client's connection has closed so far. */
    private readonly closes: () => number,
  ) {
    this.after = at.snapshotAfter ?? [];
    const key = table.key;
    this.selectList = [...columns.map((c) => quoteIdent(c.name)), ...key.map((c, i) => `${quoteIdent(c.name)}::text AS __freshet_key_${i}`)].join(", ");
    this.order = key.map((c) => quoteIdent(c.name)).join(", ");
    this.afterCondition = `(${this.order}) > (${key.map((c, i) => `$${i + 1}::text::${c.type}`).join(", ")})`;
  }

  /** Starts the transaction and imports the snapshot `name` (from CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT). */
  async begin(name: string): Promise<void> {
    if (!/^[0-9A-Fa-f-]+$/.test(name)) throw new SourceError(`the server exported a snapshot named ${JSON.stringify(name)}, which is not a snapshot name`);
    this.closesAtBegin = this.closes();
    await this.sql.unsafe("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    this.inTransaction = true;
    await this.sql.unsafe(`SET TRANSACTION SNAPSHOT '${name}'`);
    this.checkConnection();
  }

  /**
   * Fails when the connection closed since BEGIN: the driver would run the
   * next query on a new connection, outside the snapshot, and its rows would
   * not match the slot. The job then resumes the snapshot from its checkpoint.
   */
  private checkConnection(): void {
    if (this.closes() !== this.closesAtBegin) {
      this.inTransaction = false;
      throw new SourceError("the connection holding the snapshot closed, and the snapshot with it; reopen from the last checkpoint to resume the snapshot");
    }
  }

  /** Up to `limit` rows after the last one read. */
  async fetch(limit: number): Promise<SnapshotBatch> {
    const where = this.after.length === 0 ? "" : ` WHERE ${this.afterCondition}`;
    const params: Array<string | number> = [...this.after, limit];
    const query = `SELECT ${this.selectList} FROM ${this.table.quoted}${where} ORDER BY ${this.order} LIMIT $${params.length}`;
    this.checkConnection();
    const raw = await this.sql.unsafe(query, params).values();
    this.checkConnection();
    const width = this.columns.length;
    const rows: Array<Record<string, unknown>> = raw.map((values) => {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < width; i++) row[(this.columns[i] as ReplicatedColumn).name] = values[i];
      return row;
    });
    const last = raw[raw.length - 1];
    if (last !== undefined) this.after = last.slice(width).map((v) => String(v));
    const done = raw.length < limit;
    const { lsn, resumed } = this.at;
    return { rows, position: done ? { lsn, n: 0, resumed } : { lsn, n: 0, snapshotAfter: this.after, resumed }, done };
  }

  /** Ends the transaction (safe twice). */
  async end(): Promise<void> {
    if (!this.inTransaction) return;
    this.inTransaction = false;
    await this.sql.unsafe("COMMIT");
  }
}
