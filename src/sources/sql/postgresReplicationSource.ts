import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from "pg-logical-replication";
import { messageOf } from "../../core/errorMessage.js";
import { FreshetError, SourceError } from "../../errors.js";
import { checkNextArgs, StreamDecodeFailure, Wakeup, type SourcePosition, type StreamBatch, type StreamSource, type StreamSourceStats } from "../stream/streamSource.js";
import { checkReplicationOptions, type CheckedReplicationOptions as Checked, type PostgresReplicationSourceOptions } from "./postgresReplicationOptions.js";
import { openPostgresClient } from "./postgresTableSource.js";
import { formatLsn, isAfter, parseLsn, parsePosition, positionJson, type ReplicationPosition, type SnapshotSegment } from "./replicationPosition.js";
import { ReplicationSnapshot } from "./replicationSnapshot.js";
import { WalLagProbe } from "./postgresWalLag.js";
import { postgresIdent as quoteIdent } from "./identifiers.js";
import { createSlot, describeTable, dropSlot, ensurePublication, slotState, type ReplicatedColumn, type ReplicatedTable, type Sql } from "./replicationSetup.js";

/** Changes decoded and not yet handed out, at most: past it the stream pauses (TCP backpressure). */
const BUFFERED = 20_000;
/** How long open waits for a slot the previous reader of this job still holds (its server process exiting). */
const SLOT_WAIT_MS = 15_000;
/** Handed-out positions remembered for counting commits. */
const MAX_PENDING = 4_096;
/** How often the reader reports its confirmed position to the server unasked (wal_sender_timeout is 60 s by default). */
const KEEPALIVE_MS = 10_000;
/** Server error: the slot is active for another process. */
const OBJECT_IN_USE = "55006";
/** Temporary slots made by this process, for unique names. */
let snapshotSlots = 0;

/**
 * Change data capture from one PostgreSQL table by logical replication
 * (pgoutput over a durable slot), with an initial snapshot consistent with it.
 * See docs/sources-sql.md for the design; replicationPosition.ts for the position.
 *
 * The job owns the position: changes are confirmed to the slot only by
 * `commit(position)` (after a durable checkpoint), and a reopen `from` a
 * position skips whatever the slot sends again at or before it.
 */
export function postgresReplicationSource(options: PostgresReplicationSourceOptions): StreamSource {
  return new PostgresReplicationSource(checkReplicationOptions(options));
}

export type { PostgresReplicationSourceOptions };

type Change = "snapshot" | "insert" | "update" | "delete";

interface Entry {
  readonly row: unknown;
  readonly position: ReplicationPosition;
}

/**
 * pgoutput decoding that leaves column values as the server's text, for the
 * parsers of the table source's client to read (the library would use the
 * `pg` driver's global parsers). A relation message is parsed before the
 * changes that use it, so setting its columns' parsers here is in time.
 */
class TextPgoutputPlugin extends PgoutputPlugin {
  override parse(buffer: Buffer): Pgoutput.Message {
    const msg = super.parse(buffer);
    if (msg.tag === "relation") for (const c of msg.columns) c.parser = (raw: unknown) => raw;
    return msg;
  }
}

class PostgresReplicationSource implements StreamSource {
  readonly kind = "postgres-replication";
  readonly text = false;
  readonly description: string;
  private sql: Sql | undefined;
  /** Times the client's connection closed (see setUp). */
  private closes = 0;
  private table: ReplicatedTable | undefined;
  private columns: ReadonlyArray<ReplicatedColumn & { readonly parse: (text: string) => unknown }> = [];
  /** Names of the columns whose Date values the `timestamps` option converts. */
  private temporal: readonly string[] = [];
  private opened = false;
  private closing = false;
  /** The position of the last row handed out (or `from`). */
  private position: ReplicationPosition | undefined;
  /** Changes at or before it are skipped: the slot sends again what was not confirmed. */
  private from: ReplicationPosition | undefined;
  private snapshot: ReplicationSnapshot | undefined;
  private segments: readonly SnapshotSegment[] = [];
  private service: LogicalReplicationService | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  /** Why the stream stopped, reported by the next call. */
  private failure: SourceError | undefined;
  private queue: Entry[] = [];
  private readonly wakeup = new Wakeup();
  private wakeScheduled = false;
  private room: (() => void) | undefined;
  /** The transaction being decoded: its commit LSN and the count of the table's changes so far. */
  private txLsn = 0n;
  private txIndex = 0;
  /** The flush LSN last confirmed to the slot (never moved back). */
  private confirmed = 0n;
  /** The commit LSN of the newest position committed: confirmed at the next commit. */
  private lastCommitted = 0n;
  private read = 0;
  private committed = 0;
  private pending: Array<{ key: string; read: number }> = [];
  private walLag: WalLagProbe | undefined;

  constructor(private readonly o: Checked) {
    const table = o.schema === undefined ? quoteIdent(o.table) : `${quoteIdent(o.schema)}.${quoteIdent(o.table)}`;
    this.description = `PostgreSQL ${o.address} table ${table} by logical replication (slot ${o.slot}, publication ${o.publication})`;
  }

  async open(from: SourcePosition | undefined): Promise<void> {
    const start = from === undefined || from === null ? undefined : parsePosition(from);
    await this.close();
    this.closing = false;
    this.failure = undefined;
    this.segments = [];
    this.txLsn = 0n;
    this.txIndex = 0;
    try {
      await this.setUp(start);
    } catch (err) {
      await this.close().catch(() => undefined);
      throw err;
    }
    this.queue = [];
    this.pending = [];
    this.read = 0;
    this.committed = 0;
    this.opened = true;
  }

  private async setUp(start: ReplicationPosition | undefined): Promise<void> {
    const o = this.o;
    // The snapshot lives in this connection's transaction: a reconnect would
    // silently read outside it, so closes are counted and the snapshot checks.
    const sql = openPostgresClient(o.url, o.decimalsAsText === true, { applicationName: "freshet replication source", keepConnection: true, onclose: () => this.closes++ });
    this.sql = sql;
    const level = await this.call("connecting", () => sql<Array<{ wal_level: string }>>`SHOW wal_level`);
    const walLevel = level[0]?.wal_level ?? "unknown";
    if (walLevel !== "logical") throw this.error(`logical replication needs wal_level = logical, and this server has ${walLevel}; set it in postgresql.conf (with max_replication_slots and max_wal_senders) and restart the server`);
    const table = await this.call("reading the table's columns", () => describeTable(sql, o.table, o.schema));
    if (table === undefined) throw this.error(`table ${o.schema === undefined ? "" : `${o.schema}.`}${o.table} does not exist (check the table and schema options, and the database in the URL)`);
    if (table.key.length === 0) throw this.error(`table ${table.quoted} has no primary key; logical replication of updates and deletes, and a resumable snapshot, need one`);
    this.table = table;
    this.planColumns(table, sql);
    await this.call("creating the publication", () => ensurePublication(sql, o.publication, table));
    if (start === undefined && o.snapshot === false) {
      // Changes only: from what the slot kept when it exists, else from now.
      const kept = await this.call("reading the replication slot", () => slotState(sql, o.slot));
      if (kept !== undefined) start = { lsn: kept.confirmed, n: 0, resumed: [] };
    }
    if (start === undefined) {
      // From the beginning: a slot left by an earlier run holds changes whose
      // effect the new snapshot already has, so it is made anew.
      await this.call("dropping the old slot", () => dropSlot(sql, o.slot, SLOT_WAIT_MS));
      const slot = await this.call("creating the replication slot", () => createSlot(o.url, o.slot, { temporary: false, exportSnapshot: o.snapshot !== false }));
      const point = slot.consistentPoint;
      this.confirmed = point;
      this.lastCommitted = point;
      this.from = { lsn: point, n: 0, resumed: [] };
      // Before the first row, the position is "the snapshot, from its start":
      // a job that saves it resumes the snapshot rather than skip it.
      const before: ReplicationPosition = slot.snapshot === undefined ? this.from : { lsn: point, n: 0, snapshotAfter: [], resumed: [] };
      if (slot.snapshot !== undefined) await this.beginSnapshot(slot.snapshot, slot, before);
      else await slot.close();
      this.position = before;
      return;
    }
    const state = await this.call("reading the replication slot", () => slotState(sql, o.slot));
    if (state === undefined) throw this.error(`replication slot "${o.slot}" does not exist, so the changes after the saved position are gone; start the job from the beginning (no saved position)`);
    if (state.plugin !== "pgoutput") throw this.error(`replication slot "${o.slot}" uses the plugin ${state.plugin}, not pgoutput; name another slot`);
    if (state.confirmed > start.lsn) {
      throw this.error(
        `replication slot "${o.slot}" has confirmed changes up to ${formatLsn(state.confirmed)}, past the saved position ${formatLsn(start.lsn)}, so changes between them are gone; reopen from the newest checkpoint, or start from the beginning`,
      );
    }
    this.confirmed = state.confirmed;
    this.lastCommitted = state.confirmed;
    this.from = start;
    this.position = start;
    this.segments = start.resumed;
    if (start.snapshotAfter !== undefined) {
      // The exported snapshot of the interrupted read is gone: the rest of the
      // table comes from a new one, taken at a new slot's consistent point,
      // and streamed changes to those rows committed before it are skipped.
      const temp = await this.call("creating a snapshot slot", () => createSlot(o.url, `${o.slot.slice(0, 40)}_snap_${process.pid}_${++snapshotSlots}`, { temporary: true, exportSnapshot: true }));
      const segment = { after: start.snapshotAfter, lsn: temp.consistentPoint };
      this.segments = [...start.resumed, segment];
      await this.beginSnapshot(temp.snapshot ?? "", temp, { ...start, resumed: this.segments });
    }
  }

  /** Imports the exported snapshot, then closes the connection that exported it. */
  private async beginSnapshot(name: string, slot: { close(): Promise<void> }, at: ReplicationPosition): Promise<void> {
    const sql = this.db();
    const table = this.table as ReplicatedTable;
    const snapshot = new ReplicationSnapshot(sql, table, this.columns, at, () => this.closes);
    try {
      await this.call("importing the snapshot", () => snapshot.begin(name));
    } finally {
      await slot.close();
    }
    this.snapshot = snapshot;
  }

  /** The selected columns, each with the parser the table source's client uses for its type. */
  private planColumns(table: ReplicatedTable, sql: Sql): void {
    const byName = new Map(table.columns.map((c) => [c.name, c]));
    const known = table.columns.map((c) => c.name).join(", ");
    const selected = this.o.columns === undefined ? table.columns : this.o.columns.map((n) => byName.get(n) ?? this.noColumn(n, table, known));
    const parsers = sql.options.parsers;
    this.columns = selected.map((c) => {
      const parse = parsers[c.typeOid];
      if (parse === undefined) return { ...c, parse: (text: string) => text };
      // postgres.js's array parsers take the text after the opening brace, as its connection passes it.
      const array = (parse as { array?: unknown }).array === true;
      return { ...c, parse: array ? (text: string) => parse(text.slice(1)) : (text: string) => parse(text) };
    });
    const ts = this.o.timestamps;
    this.temporal = ts === undefined || ts === "date" ? [] : selected.filter((c) => [1082, 1114, 1184].includes(c.typeOid)).map((c) => c.name);
  }

  private noColumn(name: string, table: ReplicatedTable, known: string): never {
    throw this.error(`table ${table.quoted} has no column "${name}" (its columns: ${known})`);
  }

  async next(maxRows: number, maxWaitMs: number): Promise<StreamBatch> {
    checkNextArgs(this.kind, maxRows, maxWaitMs);
    if (!this.opened) throw new SourceError("PostgreSQL replication source: next() before open()");
    const deadline = Date.now() + maxWaitMs;
    const snapshot = this.snapshot;
    if (snapshot !== undefined) {
      const limit = Math.min(maxRows, this.o.batch);
      const got = await this.call("reading the snapshot", () => snapshot.fetch(limit));
      if (got.done) {
        this.snapshot = undefined;
        await this.call("ending the snapshot", () => snapshot.end());
      }
      if (got.rows.length > 0) {
        if (this.o.operationField !== undefined) for (const r of got.rows) r[this.o.operationField] = "snapshot";
        return this.handOut(got.rows.map((row) => ({ row: this.convert(row), position: got.position })));
      }
    }
    if (this.service === undefined) await this.startStream();
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (this.queue.length > 0) {
        const taken = this.queue.splice(0, maxRows);
        this.room?.();
        return this.handOut(taken);
      }
      const left = deadline - Date.now();
      if (left <= 0) return { rows: [], position: this.positionOut() };
      await this.wakeup.wait(left);
    }
  }

  private handOut(entries: readonly Entry[]): StreamBatch {
    const last = entries[entries.length - 1];
    if (last !== undefined) this.position = last.position;
    this.read += entries.length;
    const position = this.positionOut();
    this.pending.push({ key: JSON.stringify(position), read: this.read });
    // Trimmed in bulk, not by one per batch: a job that never commits does not grow memory.
    if (this.pending.length > 2 * MAX_PENDING) this.pending.splice(0, this.pending.length - MAX_PENDING);
    return { rows: entries.map((e) => e.row), position };
  }

  private positionOut(): SourcePosition {
    return positionJson(this.position as ReplicationPosition);
  }

  private convert(row: Record<string, unknown>): Record<string, unknown> {
    for (const name of this.temporal) {
      const v = row[name];
      if (v instanceof Date && !Number.isNaN(v.getTime())) row[name] = this.o.timestamps === "ms" ? v.getTime() : v.toISOString();
    }
    return row;
  }

  /** Starts streaming from the slot; retries while the previous reader's server process still holds it. */
  private async startStream(): Promise<void> {
    const deadline = Date.now() + SLOT_WAIT_MS;
    for (;;) {
      const service = new LogicalReplicationService(
        // The walsender writes values in this session's settings: UTC, ISO dates.
        { connectionString: this.o.url, application_name: "freshet replication stream", options: "-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=1" },
        { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
      );
      service.on("error", (err: Error) => this.fail("streaming changes", err));
      service.on("data", (_lsn: string, msg: Pgoutput.Message) => this.onMessage(msg));
      service.on("heartbeat", (_lsn: string, _time: number, reply: boolean) => {
        if (reply) this.confirm(service);
      });
      const started = new Promise<"started">((resolve) => service.once("start", () => resolve("started")));
      const ended = service.subscribe(new TextPgoutputPlugin({ protoVersion: 1, publicationNames: [this.o.publication] }), this.o.slot).then(
        () => undefined,
        (err: unknown) => err,
      );
      const first = await Promise.race([started, ended]);
      if (first === "started") {
        this.service = service;
        this.confirm(service);
        // A status update now and then, also while the stream is paused (the
        // job reads slowly and nothing reads the server's keepalives), so
        // the server does not end the connection after wal_sender_timeout.
        this.keepalive = setInterval(() => this.confirm(service), KEEPALIVE_MS);
        this.keepalive.unref();
        void ended.then((err) => {
          if (this.service === service && !this.closing) this.fail("streaming changes", err ?? new Error("the server ended the replication stream"));
        });
        return;
      }
      await service.destroy().catch(() => undefined);
      const inUse = typeof first === "object" && first !== null && (first as { code?: unknown }).code === OBJECT_IN_USE;
      if (!inUse || Date.now() >= deadline) throw this.error(`starting replication from slot "${this.o.slot}" failed: ${messageOf(first)}`, first);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Tells the slot everything before `confirmed` may go (the transaction at it is sent again and skipped). */
  private confirm(service: LogicalReplicationService): void {
    // acknowledge(x) reports x + 1 as flushed.
    if (this.confirmed > 0n) void service.acknowledge(formatLsn(this.confirmed - 1n)).catch(() => undefined);
  }

  private async onMessage(msg: Pgoutput.Message): Promise<void> {
    try {
      await this.decode(msg);
    } catch (err) {
      this.fail("decoding a change", err);
    }
    if (this.queue.length >= BUFFERED && !this.closing) await new Promise<void>((resolve) => (this.room = resolve));
    this.room = undefined;
  }

  private async decode(msg: Pgoutput.Message): Promise<void> {
    const table = this.table as ReplicatedTable;
    switch (msg.tag) {
      case "begin":
        this.txLsn = (msg.commitLsn === null ? undefined : parseLsn(msg.commitLsn)) ?? 0n;
        this.txIndex = 0;
        return;
      case "insert":
      case "update":
      case "delete": {
        if (msg.relation.schema !== table.schema || msg.relation.name !== table.name) return;
        const n = ++this.txIndex;
        const from = this.from as ReplicationPosition;
        if (!isAfter(this.txLsn, n, from)) return;
        const change: Change = msg.tag;
        if ((change === "update" && this.o.updates === "skip") || (change === "delete" && this.o.deletes !== "emit")) return;
        const tuple = (msg.tag === "delete" ? (msg.old ?? msg.key) : msg.new) ?? {};
        if (this.segments.length > 0 && !(await this.inStream(tuple))) return;
        const segments = this.segments.length === 0 ? this.segments : this.segments.filter((s) => s.lsn > this.txLsn);
        const position: ReplicationPosition = { lsn: this.txLsn, n, resumed: segments };
        this.queue.push({ row: this.row(change, tuple, position), position });
        this.wakeSoon();
        return;
      }
      default:
        return;
    }
  }

  /**
   * Wakes a waiting next() once the messages already received are decoded
   * (after the current I/O callbacks), so it hands them out as one batch
   * rather than the first change alone.
   */
  private wakeSoon(): void {
    if (this.wakeScheduled || !this.wakeup.waiting) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wakeup.wake();
    });
  }

  /** False for a change that a resumed snapshot already holds: committed before that snapshot, to a key it read. */
  private async inStream(tuple: Record<string, unknown>): Promise<boolean> {
    let needed = 0n;
    for (const s of this.segments) {
      if (s.lsn <= this.txLsn) continue;
      if (!(await this.keyAfter(tuple, s.after))) break;
      needed = s.lsn;
    }
    return this.txLsn >= needed;
  }

  /** Whether the tuple's primary key sorts after `after`, compared by the server (collations, types). */
  private async keyAfter(tuple: Record<string, unknown>, after: readonly string[]): Promise<boolean> {
    if (after.length === 0) return true;
    const key = (this.table as ReplicatedTable).key;
    const values = key.map((c) => String(tuple[c.name]));
    const cast = (i: number, c: ReplicatedColumn): string => `$${i}::text::${c.type}`;
    const query = `SELECT ROW(${key.map((c, i) => cast(i + 1, c)).join(", ")}) > ROW(${key.map((c, i) => cast(key.length + i + 1, c)).join(", ")}) AS after`;
    const rows = await this.db().unsafe<Array<{ after: boolean }>>(query, [...values, ...after]);
    return rows[0]?.after === true;
  }

  private row(change: Change, tuple: Record<string, unknown>, p: ReplicationPosition): unknown {
    const row: Record<string, unknown> = {};
    for (const c of this.columns) {
      const raw = tuple[c.name];
      if (raw === undefined) {
        // A delete under the default replica identity carries the key only.
        if (change === "delete") continue;
        const why = c.name in tuple ? "an unchanged TOASTed value the server did not send (set REPLICA IDENTITY FULL on the table)" : "a column the change does not carry";
        return new StreamDecodeFailure(`column "${c.name}" is ${why}`, JSON.stringify(tuple), `${formatLsn(p.lsn)}#${p.n}`);
      }
      try {
        row[c.name] = raw === null ? null : c.parse(String(raw));
      } catch (err) {
        return new StreamDecodeFailure(`column "${c.name}": ${messageOf(err)}`, JSON.stringify(tuple), `${formatLsn(p.lsn)}#${p.n}`);
      }
    }
    if (this.o.operationField !== undefined) row[this.o.operationField] = change;
    return this.convert(row);
  }

  async commit(position: SourcePosition): Promise<void> {
    if (position === null) return;
    const p = parsePosition(position);
    const key = JSON.stringify(position);
    const at = this.pending.findIndex((e) => e.key === key);
    const entry = this.pending[at];
    if (entry !== undefined) {
      if (entry.read > this.committed) this.committed = entry.read;
      this.pending.splice(0, at + 1);
    }
    // The slot is confirmed one commit behind: up to the transaction of the
    // position committed before this one. A job whose newest checkpoint
    // turns out damaged falls back to the one before, and must still find
    // the changes after it. (A snapshot position stands at the slot's start,
    // which the slot keeps anyway.)
    if (p.snapshotAfter === undefined && p.lsn > this.lastCommitted) {
      if (this.lastCommitted > this.confirmed) {
        this.confirmed = this.lastCommitted;
        if (this.service !== undefined) this.confirm(this.service);
      }
      this.lastCommitted = p.lsn;
    }
  }

  /** Unknown: the slot can tell WAL bytes behind (pg_replication_slots), not how many of this table's changes wait. */
  async lag(): Promise<number | undefined> {
    return undefined;
  }

  /** WAL bytes after the position's LSN: the commit of the last change handed out, or where reading starts (docs/sources-sql.md). */
  async lagBytes(): Promise<number | undefined> {
    const lsn = this.opened ? this.position?.lsn : undefined;
    if (lsn === undefined) return undefined;
    const probe = (this.walLag ??= new WalLagProbe(this.o.url));
    return this.call("measuring the WAL written after the position", () => probe.bytesAfter(lsn));
  }

  stats(): StreamSourceStats {
    return { read: this.read, committed: this.committed };
  }

  async close(): Promise<void> {
    this.opened = false;
    this.closing = true;
    this.room?.();
    this.wakeup.wake();
    clearInterval(this.keepalive);
    this.keepalive = undefined;
    await this.walLag?.close().catch(() => undefined);
    const service = this.service;
    this.service = undefined;
    if (service !== undefined) await service.destroy().catch(() => undefined);
    const snapshot = this.snapshot;
    this.snapshot = undefined;
    if (snapshot !== undefined) await snapshot.end().catch(() => undefined);
    const sql = this.sql;
    this.sql = undefined;
    if (sql === undefined) return;
    try {
      if (this.o.dropSlotOnClose === true) await this.call("dropping the slot", () => dropSlot(sql, this.o.slot, SLOT_WAIT_MS));
    } finally {
      await sql.end({ timeout: 5 });
    }
  }

  private fail(what: string, err: unknown): void {
    if (this.failure === undefined && !this.closing) this.failure = this.error(`${what} failed: ${messageOf(err)}`, err);
    this.wakeup.wake();
  }

  private error(message: string, cause?: unknown): SourceError {
    return new SourceError(`PostgreSQL ${this.o.address}: ${message}`, {}, cause === undefined ? undefined : { cause });
  }

  private db(): Sql {
    if (this.sql === undefined) throw new SourceError("PostgreSQL replication source: not open");
    return this.sql;
  }

  /** Runs a database call; a driver error becomes a SourceError naming the system, the address and what failed. */
  private async call<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (cause) {
      if (cause instanceof FreshetError) {
        if (cause instanceof SourceError && !cause.message.startsWith("PostgreSQL")) throw this.error(cause.message, cause);
        throw cause;
      }
      throw this.error(`${what} failed (slot ${this.o.slot}): ${messageOf(cause)}`, cause);
    }
  }
}
