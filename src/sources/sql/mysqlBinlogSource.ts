import ZongJi, { type AnyBinlogEvent, type BinlogEventByName, type RowData, type UpdateRowData } from "@vlasky/zongji";
import { createPool, type Pool } from "mysql2";
import { createConnection, type Connection, type ConnectionOptions } from "mysql2/promise";
import { messageOf } from "../../core/errorMessage.js";
import { FreshetError, SourceError } from "../../errors.js";
import { checkNextArgs, StreamDecodeFailure, Wakeup, type SourcePosition, type StreamBatch, type StreamSource, type StreamSourceStats } from "../stream/streamSource.js";
import { BinlogLagProbe } from "./binlogLag.js";
import { binlogPositionJson, changeWanted, parseBinlogPosition, windowsAhead, type BinlogKey, type BinlogPosition } from "./binlogPosition.js";
import { RowQueue, type OpenTx } from "./binlogRowQueue.js";
import { checkOptions, type Checked, type MysqlBinlogSourceOptions } from "./mysqlBinlogOptions.js";
import { binlogEnd, binlogSettingProblems, describeBinlogTable, type BinlogTable } from "./mysqlBinlogCatalog.js";
import { mysqlIdent as quote } from "./identifiers.js";
import { BinlogSnapshot } from "./mysqlBinlogSnapshot.js";
import { mysqlConnectionOptions } from "./mysqlTableSource.js";

export type { MysqlBinlogSourceOptions } from "./mysqlBinlogOptions.js";

/** What the source saw of the table's changes since `open`. */
export interface BinlogChangeCounts {
  readonly snapshot: number;
  readonly inserts: number;
  readonly updates: number;
  readonly deletes: number;
  /** Updates or deletes not handed out (the `updates` / `deletes` options). */
  readonly skipped: number;
}

export interface MysqlBinlogSource extends StreamSource {
  changes(): BinlogChangeCounts;
  lagBytes(): Promise<number | undefined>;
}

type Operation = "snapshot" | "insert" | "update" | "delete";

const MAX_PENDING = 4_096;
/** Reconnects in a row, with no event read between them, before a lost connection fails the source. */
const MAX_RECONNECTS = 3;

/** Whether an error says the connection is gone (not that the server refused what was asked). */
function connectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    code === "PROTOCOL_CONNECTION_LOST" || code === "ECONNRESET" || code === "EPIPE" || code === "ETIMEDOUT" || /connection lost|server closed the connection/i.test(messageOf(err))
  );
}

/**
 * A MariaDB/MySQL table's changes, read from the binary log as a replica does
 * (through @vlasky/zongji): on a first open the rows the table holds (a
 * consistent snapshot, see mysqlBinlogSnapshot.ts), then every insert, and by
 * default every update's new row, in commit order. See docs/sources-sql.md.
 *
 * The position (binlogPosition.ts) lives in the job's checkpoint: nothing is
 * acknowledged on the server, so `commit` only counts.
 */
export function mysqlBinlogSource(options: MysqlBinlogSourceOptions): MysqlBinlogSource {
  return new BinlogSource(checkOptions(options));
}

class BinlogSource implements MysqlBinlogSource {
  readonly kind = "mysql-binlog";
  readonly text = false;
  readonly description: string;
  private ctrl: Connection | undefined;
  private reader: ZongJi | undefined;
  /** The reader's connection for table metadata: a pool, so one the server closed while idle is replaced. */
  private metadata: Pool | undefined;
  private table: BinlogTable | undefined;
  private snapshot: BinlogSnapshot | undefined;
  /** The selected columns the binlog carries as JSON text (MariaDB). */
  private json: readonly string[] = [];
  /** The position after the last row handed out (or where reading starts). */
  private position: BinlogPosition | undefined;
  private queue = new RowQueue();
  private tx: OpenTx | undefined;
  /** Where the replica connection started, for messages. */
  private readFrom = "";
  /** Changes to skip in the first transaction read (from a position inside it). */
  private firstSkip = 0;
  /** The point after the last commit read (or where reading started): where a reconnect resumes when no transaction is open. */
  private lastCommit: BinlogPosition = { file: "", pos: 0, skip: 0 };
  /** Reconnects since the last event read; a connection that keeps failing fails the source. */
  private reconnects = 0;
  private failure: unknown;
  private readonly wakeup = new Wakeup();
  private paused = false;
  private read = 0;
  private committed = 0;
  private pending: Array<{ key: string; read: number }> = [];
  private counts = { snapshot: 0, inserts: 0, updates: 0, deletes: 0, skipped: 0 };
  private lagProbe: BinlogLagProbe | undefined;

  constructor(private readonly o: Checked) {
    this.description = `MariaDB/MySQL ${o.address} binlog of table ${o.schema === undefined ? quote(o.table) : `${quote(o.schema)}.${quote(o.table)}`}`;
  }

  async open(from: SourcePosition | undefined): Promise<void> {
    const saved = from === undefined || from === null ? undefined : parseBinlogPosition(from);
    await this.close();
    this.failure = undefined;
    this.queue = new RowQueue();
    this.tx = undefined;
    this.pending = [];
    this.read = 0;
    this.committed = 0;
    this.counts = { snapshot: 0, inserts: 0, updates: 0, deletes: 0, skipped: 0 };
    try {
      const ctrl = await this.call("connecting", () => createConnection(this.connectionOptions()));
      this.ctrl = ctrl;
      // Between queries a dropped connection emits "error"; unheard it would end the process. The next query fails instead.
      ctrl.on("error", () => undefined);
      await this.call("setting the session time zone", () => ctrl.query("SET time_zone = '+00:00'"));
      const table = await this.call("reading the table's columns", () => describeBinlogTable(ctrl, this.o.schema, this.o.table));
      if (table === undefined) throw this.problem(`table ${this.tableName()} does not exist as a base table (check the table and schema options, and the database in the URL)`);
      this.table = table;
      this.checkColumns(table);
      const selected = new Set(this.o.columns ?? table.columns);
      this.json = table.jsonColumns.filter((c) => selected.has(c));
      const problems = await this.call("reading the binlog settings", () => binlogSettingProblems(ctrl));
      if (problems.length > 0) throw this.problem(`cannot read changes from the binary log: ${problems.join("; ")}`);
      let position: BinlogPosition;
      if (saved !== undefined && saved.snapshot !== undefined) position = await this.resumeSnapshot(ctrl, table, saved);
      else if (saved !== undefined) position = saved;
      else if (this.o.snapshot) position = await this.resumeSnapshot(ctrl, table, undefined);
      else position = { ...(await this.call("reading the binlog's end (SHOW MASTER STATUS)", () => binlogEnd(ctrl))), skip: 0 };
      this.position = position;
      if (this.snapshot === undefined) await this.startBinlog(position);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /**
   * Opens a read view for the rows after `saved.snapshot.after` (all rows on a
   * first open). A resumed snapshot sees the table later than the one it
   * replaces, so a window makes the binlog changes before its point count
   * only for rows already read.
   */
  private async resumeSnapshot(ctrl: Connection, table: BinlogTable, saved: BinlogPosition | undefined): Promise<BinlogPosition> {
    const key = table.integerKey;
    if (key === undefined) throw this.problem(`the snapshot reads table ${this.tableName()} by an integer primary key, but ${table.keyProblem}; use snapshot: false to read only changes`);
    const after = saved?.snapshot?.after ?? null;
    const columns = this.o.columns ?? table.columns;
    const started = await this.call("starting a consistent snapshot", () => BinlogSnapshot.start(ctrl, `${quote(table.schema)}.${quote(this.o.table)}`, columns, key, after));
    if (started === undefined) {
      throw this.problem("the server reports no binlog_snapshot_file/binlog_snapshot_position for a consistent snapshot (MySQL does not; MariaDB does); use snapshot: false to read only changes");
    }
    this.snapshot = started.snapshot;
    if (saved === undefined) return { ...started.at, skip: 0, snapshot: { after: null } };
    return { ...saved, windows: [...(saved.windows ?? []), { at: started.at, key: after }] };
  }

  private checkColumns(table: BinlogTable): void {
    const known = new Set(table.columns);
    for (const c of this.o.columns ?? []) {
      if (!known.has(c)) throw this.problem(`table ${this.tableName()} has no column "${c}" (its columns: ${table.columns.join(", ")})`);
    }
    const op = this.o.operationField;
    if (op !== undefined && (this.o.columns ?? table.columns).includes(op)) throw this.problem(`operationField "${op}" is also a column of ${this.tableName()}; pick another name`);
  }

  private connectionOptions(): ConnectionOptions {
    return mysqlConnectionOptions(this.o.url, this.o.decimalsAsText);
  }

  /** Starts the replica connection at `at` and waits until it is reading. */
  private async startBinlog(at: BinlogPosition): Promise<void> {
    const table = this.table;
    if (table === undefined) throw new SourceError("MariaDB/MySQL binlog source: not open");
    // Done with the snapshot and the checks: the reader needs its own connections only.
    const ctrl = this.ctrl;
    this.ctrl = undefined;
    if (ctrl !== undefined) await ctrl.end().catch(() => ctrl.destroy());
    const metadata = createPool({ ...this.connectionOptions(), connectionLimit: 1, maxIdle: 0, idleTimeout: 60_000 });
    this.metadata = metadata;
    const reader = new ZongJi(metadata);
    this.reader = reader;
    this.firstSkip = at.skip;
    this.lastCommit = { file: at.file, pos: at.pos, skip: at.skip };
    this.readFrom = `${at.file}:${at.pos}`;
    this.tx = undefined;
    const ready = new Promise<void>((resolve, reject) => {
      reader.once("ready", resolve);
      reader.once("error", reject);
    });
    reader.on("error", (err: Error) => {
      this.failure ??= err;
      this.wakeup.wake();
    });
    reader.on("binlog", (event: AnyBinlogEvent) => this.onEvent(reader, event));
    reader.start({
      serverId: this.o.serverId,
      filename: at.file,
      position: at.pos,
      includeEvents: ["tablemap", "writerows", "updaterows", "deleterows", "xid", "query", "mariadbgtid", "gtid", "anonymousgtid"],
      includeSchema: { [table.schema]: [this.o.table] },
    });
    await this.call(`starting to read the binary log at ${at.file}:${at.pos}`, () => ready);
  }

  private onEvent(reader: ZongJi, event: AnyBinlogEvent): void {
    if (reader !== this.reader) return;
    this.reconnects = 0;
    switch (event.getEventName()) {
      case "writerows":
        return this.onRows(reader, "insert", (event as BinlogEventByName<"writerows">).rows);
      case "updaterows":
        return this.onRows(reader, "update", (event as BinlogEventByName<"updaterows">).rows);
      case "deleterows":
        return this.onRows(reader, "delete", (event as BinlogEventByName<"deleterows">).rows);
      case "xid":
        return this.onCommit(reader);
      case "query": {
        const q = (event as BinlogEventByName<"query">).query.trim().toUpperCase();
        if (q === "COMMIT") return this.onCommit(reader);
        if (q !== "BEGIN") this.endTx();
        return;
      }
      case "mariadbgtid":
      case "gtid":
      case "anonymousgtid":
        // A new group: the previous one ended (DDL has no commit marker).
        return this.endTx();
      default:
        return;
    }
  }

  private onRows(reader: ZongJi, op: "insert" | "update" | "delete", images: ReadonlyArray<RowData | UpdateRowData>): void {
    let tx = this.tx;
    if (tx === undefined) {
      // The library holds its resume point at the start of a transaction's table maps until its commit.
      const start = { file: String(reader.options.filename), pos: Number(reader.options.position) };
      const windows = windowsAhead(this.position?.windows ?? [], start);
      tx = { start, windows, changes: 0, skip: this.firstSkip, lastQueued: 0, committed: undefined };
      this.firstSkip = 0;
      this.tx = tx;
    }
    const ahead = tx.windows;
    for (const image of images) {
      tx.changes++;
      if (tx.changes <= tx.skip) continue;
      const row = op === "update" ? (image as UpdateRowData).after : (image as RowData);
      this.counts[op === "insert" ? "inserts" : op === "update" ? "updates" : "deletes"]++;
      if ((op === "update" && this.o.updates === "skip") || (op === "delete" && this.o.deletes === "skip")) {
        this.counts.skipped++;
        continue;
      }
      if (ahead.length > 0 && !changeWanted(ahead, tx.start, this.keyOf(row))) continue;
      this.queue.push(this.decode(row, op, tx), tx, tx.changes);
    }
    if (!this.paused && this.queue.length >= 2 * this.o.batch) {
      // The job reads slower than the server writes: stop reading the socket until the queue drains.
      this.paused = true;
      reader.connection?.pause();
    }
    this.wakeup.wake();
  }

  /** A commit: the transaction's last row can carry the point after the commit, where a reader need skip nothing. */
  private onCommit(reader: ZongJi): void {
    const tx = this.tx;
    this.tx = undefined;
    const at = { file: String(reader.options.filename), pos: Number(reader.options.position) };
    this.lastCommit = { ...at, skip: 0 };
    if (tx === undefined || tx.lastQueued === 0) return;
    tx.committed = { ...at, skip: 0, windows: windowsAhead(tx.windows, at) };
  }

  private endTx(): void {
    this.tx = undefined;
  }

  private keyOf(row: RowData): BinlogKey | undefined {
    const key = this.table?.integerKey;
    if (key === undefined) return undefined;
    return key.map((k) => String(row[k.name]));
  }

  /** A binlog row as handed out, or a StreamDecodeFailure when a JSON column's text does not parse. */
  private decode(image: RowData, op: Operation, tx: OpenTx): Record<string, unknown> | StreamDecodeFailure {
    for (const c of this.json) {
      const text = image[c];
      if (typeof text !== "string") continue;
      try {
        image[c] = JSON.parse(text);
      } catch (err) {
        return new StreamDecodeFailure(`column "${c}" holds JSON that does not parse: ${messageOf(err)}`, text, `${tx.start.file}:${tx.start.pos} change ${tx.changes}`);
      }
    }
    return this.shape(image, op);
  }

  /** The row as handed out: the chosen columns, timestamps converted, the operation added. */
  private shape(image: RowData, op: Operation): Record<string, unknown> {
    const columns = this.o.columns;
    const row: Record<string, unknown> = columns === undefined ? image : {};
    if (columns !== undefined) for (const c of columns) row[c] = image[c];
    if (this.o.timestamps !== "date") {
      const ms = this.o.timestamps === "ms";
      for (const k in row) {
        const v = row[k];
        if (v instanceof Date && !Number.isNaN(v.getTime())) row[k] = ms ? v.getTime() : v.toISOString();
      }
    }
    if (this.o.operationField !== undefined) row[this.o.operationField] = op;
    return row;
  }

  async next(maxRows: number, maxWaitMs: number): Promise<StreamBatch> {
    checkNextArgs(this.kind, maxRows, maxWaitMs);
    const position = this.position;
    if (position === undefined) throw new SourceError("MariaDB/MySQL binlog source: next() before open()");
    if (this.snapshot !== undefined) {
      const batch = await this.nextSnapshot(this.snapshot, position, Math.min(maxRows, this.o.batch));
      if (batch !== undefined) return batch;
    }
    const deadline = Date.now() + maxWaitMs;
    while (this.queue.length === 0) {
      if (this.failure !== undefined) {
        if (this.reconnects >= MAX_RECONNECTS || !connectionLost(this.failure)) throw this.wrap(`reading the binary log from ${this.readFrom}`, this.failure);
        await this.reconnectAfter(this.failure);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) return { rows: [], position: binlogPositionJson(position) };
      await this.wakeup.wait(left);
    }
    const { rows, position: after } = this.queue.take(Math.min(maxRows, this.queue.length));
    if (this.paused && this.queue.length <= this.o.batch) {
      this.paused = false;
      this.reader?.connection?.resume();
    }
    return this.handOut(rows, after);
  }

  /** Snapshot rows, or undefined once the snapshot is read (the binlog is then started from its point). */
  private async nextSnapshot(snapshot: BinlogSnapshot, position: BinlogPosition, limit: number): Promise<StreamBatch | undefined> {
    const { rows, last } = await this.call("reading the snapshot", () => snapshot.fetch(limit));
    if (snapshot.finished) {
      await this.call("ending the snapshot", () => snapshot.finish());
      this.snapshot = undefined;
      await this.startBinlog(position);
    }
    if (rows.length === 0) return undefined;
    for (const row of rows) this.shape(row, "snapshot");
    this.counts.snapshot += rows.length;
    const { snapshot: _, ...binlog } = position;
    // The last snapshot row's position says so (no snapshot part): a reopen goes straight to the binlog.
    return this.handOut(rows, this.snapshot === undefined ? binlog : { ...binlog, snapshot: { after: last } });
  }

  private handOut(rows: unknown[], position: BinlogPosition): StreamBatch {
    this.position = position;
    this.read += rows.length;
    const json = binlogPositionJson(position);
    this.pending.push({ key: JSON.stringify(json), read: this.read });
    if (this.pending.length > MAX_PENDING) this.pending.splice(0, this.pending.length - MAX_PENDING);
    return { rows, position: json };
  }

  async commit(position: SourcePosition): Promise<void> {
    // Nothing to acknowledge on the server: the position lives in the job's checkpoint. This only counts.
    parseBinlogPosition(position);
    const at = this.pending.findIndex((p) => p.key === JSON.stringify(position));
    if (at < 0) return;
    const entry = this.pending[at];
    if (entry !== undefined && entry.read > this.committed) this.committed = entry.read;
    this.pending.splice(0, at + 1);
  }

  async lag(): Promise<number | undefined> {
    // The binlog says how many bytes are unread, not how many of them are this table's rows.
    return undefined;
  }

  /** Binlog bytes after the position's point: after the last change handed out (its commit once read), or where reading starts. */
  async lagBytes(): Promise<number | undefined> {
    const at = this.position;
    if (at === undefined) return undefined;
    const probe = (this.lagProbe ??= new BinlogLagProbe(this.o.url, this.o.decimalsAsText));
    return this.call("measuring the binlog written after the position (SHOW BINARY LOGS)", () => probe.bytesAfter(at));
  }

  stats(): StreamSourceStats {
    return { read: this.read, committed: this.committed };
  }

  changes(): BinlogChangeCounts {
    return { ...this.counts };
  }

  async close(): Promise<void> {
    const { ctrl, snapshot } = this;
    this.ctrl = undefined;
    this.snapshot = undefined;
    this.position = undefined;
    this.wakeup.wake();
    await this.stopReader();
    await this.lagProbe?.close().catch(() => undefined);
    if (snapshot !== undefined && ctrl !== undefined) await snapshot.finish().catch(() => undefined);
    if (ctrl !== undefined) await ctrl.end().catch(() => ctrl.destroy());
  }

  /** Stops the replica connection and its metadata pool. */
  private async stopReader(): Promise<void> {
    const { reader, metadata } = this;
    this.reader = undefined;
    this.metadata = undefined;
    this.paused = false;
    if (reader !== undefined) {
      const stopped = new Promise<void>((resolve) => {
        reader.once("stopped", () => resolve());
        setTimeout(resolve, 2_000).unref();
      });
      reader.removeAllListeners("binlog");
      reader.on("error", () => undefined);
      reader.stop();
      await stopped;
    }
    if (metadata !== undefined) await new Promise<void>((resolve) => metadata.end(() => resolve()));
  }

  /**
   * After the server dropped the replica connection (a pause longer than its
   * net_write_timeout, a restart), reads on from where the queue ends: inside
   * the open transaction, skipping the changes of it already seen, or after
   * the last commit read.
   */
  private async reconnectAfter(lost: unknown): Promise<void> {
    const tx = this.tx;
    const at = tx !== undefined ? { ...tx.start, skip: tx.changes } : this.lastCommit;
    await this.stopReader();
    this.failure = undefined;
    this.reconnects++;
    try {
      await this.startBinlog(at);
    } catch (err) {
      // Kept, so later reads fail too once no reconnect is left.
      this.failure = err;
      throw this.wrap(`reconnecting to read the binary log at ${at.file}:${at.pos} (after: ${messageOf(lost)})`, err);
    }
  }

  private tableName(): string {
    return this.o.schema === undefined ? quote(this.o.table) : `${quote(this.o.schema)}.${quote(this.o.table)}`;
  }

  private problem(message: string): SourceError {
    return new SourceError(`MariaDB/MySQL ${this.o.address}: ${message}`);
  }

  private wrap(what: string, cause: unknown): FreshetError {
    if (cause instanceof FreshetError) return cause;
    return new SourceError(`MariaDB/MySQL ${this.o.address}: ${what} failed (table ${this.tableName()}): ${messageOf(cause)}`, {}, { cause });
  }

  /** Runs a database call; a driver error becomes a SourceError naming the system, the address and what failed. */
  private async call<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (cause) {
      throw this.wrap(what, cause);
    }
  }
}
