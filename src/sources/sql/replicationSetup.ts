import postgres from "postgres";
import { SourceError } from "../../errors.js";
import type { openPostgresClient } from "./postgresTableSource.js";
import { postgresIdent as quoteIdent } from "./identifiers.js";
import { parseLsn } from "./replicationPosition.js";

/**
 * The SQL the logical replication source runs besides the stream: reading the
 * table's columns and primary key, making sure the publication covers the
 * table, creating and dropping the slot, and the replication connection a
 * snapshot is exported from.
 */

export type Sql = ReturnType<typeof openPostgresClient>;

export interface ReplicatedColumn {
  readonly name: string;
  /** The type as format_type names it, for casts of key text. */
  readonly type: string;
  /** The OID whose parser reads the column's text: the base type's for a domain. */
  readonly typeOid: number;
}

export interface ReplicatedTable {
  readonly schema: string;
  readonly name: string;
  /** "schema"."table", for SQL and messages. */
  readonly quoted: string;
  readonly columns: readonly ReplicatedColumn[];
  /** The primary key columns, in key order. */
  readonly key: readonly ReplicatedColumn[];
}

/** The table's columns and primary key, or undefined when there is no such table. */
export async function describeTable(sql: Sql, table: string, schema: string | undefined): Promise<ReplicatedTable | undefined> {
  const rel = await sql<Array<{ oid: number; schema: string }>>`
    SELECT c.oid, n.nspname AS schema
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname = ${table} AND n.nspname = coalesce(${schema ?? null}::text, current_schema()) AND c.relkind IN ('r', 'p')`;
  const found = rel[0];
  if (found === undefined) return undefined;
  const cols = await sql<Array<{ name: string; type: string; oid: number }>>`
    SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
           (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END)::int AS oid
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = ${found.oid} AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum`;
  const pk = await sql<Array<{ name: string }>>`
    SELECT a.attname AS name
    FROM pg_index i
    CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = ${found.oid} AND i.indisprimary
    ORDER BY k.ord`;
  const columns = cols.map((c) => ({ name: c.name, type: c.type, typeOid: c.oid }));
  const byName = new Map(columns.map((c) => [c.name, c]));
  const key = pk.flatMap((k) => {
    const c = byName.get(k.name);
    return c === undefined ? [] : [c];
  });
  return { schema: found.schema, name: table, quoted: `${quoteIdent(found.schema)}.${quoteIdent(table)}`, columns, key };
}

/**
 * Makes sure `publication` publishes the table: creates it (inserts, updates
 * and deletes of this table only) when missing; fails when it exists without
 * the table, rather than altering a publication someone else may use.
 */
export async function ensurePublication(sql: Sql, publication: string, t: ReplicatedTable): Promise<void> {
  const exists = async (): Promise<boolean> => (await sql`SELECT 1 FROM pg_publication WHERE pubname = ${publication}`).length > 0;
  if (!(await exists())) {
    try {
      await sql.unsafe(`CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${t.quoted} WITH (publish = 'insert, update, delete')`);
    } catch (err) {
      // Another reader created it meanwhile: check it like an existing one.
      if (!(err instanceof postgres.PostgresError && err.code === "42710")) throw err;
    }
  }
  const has = await sql`SELECT 1 FROM pg_publication_tables WHERE pubname = ${publication} AND schemaname = ${t.schema} AND tablename = ${t.name}`;
  if (has.length === 0) {
    throw new SourceError(
      `publication "${publication}" exists but does not publish table ${t.quoted}; add it (ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${t.quoted}) or name another publication with the publication option`,
    );
  }
}

export interface SlotState {
  /** The slot's confirmed flush LSN: the server may have discarded changes before it. */
  readonly confirmed: bigint;
  /** The server process streaming from it, when one is. */
  readonly activePid: number | null;
  readonly plugin: string;
  readonly database: string;
}

export async function slotState(sql: Sql, slot: string): Promise<SlotState | undefined> {
  const rows = await sql<Array<{ confirmed: string | null; pid: number | null; plugin: string | null; database: string | null }>>`
    SELECT confirmed_flush_lsn::text AS confirmed, active_pid AS pid, plugin, database FROM pg_replication_slots WHERE slot_name = ${slot}`;
  const r = rows[0];
  if (r === undefined) return undefined;
  return { confirmed: parseLsn(r.confirmed ?? "0/0") ?? 0n, activePid: r.pid, plugin: r.plugin ?? "", database: r.database ?? "" };
}

/**
 * Drops the slot, waiting up to `waitMs` for the process streaming from it to
 * exit (a reader that just closed, or one killed whose connection the server
 * has not yet seen drop). Nothing to do when it does not exist.
 */
export async function dropSlot(sql: Sql, slot: string, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const state = await slotState(sql, slot);
    if (state === undefined) return;
    if (state.activePid === null) {
      try {
        await sql`SELECT pg_drop_replication_slot(${slot})`;
        return;
      } catch (err) {
        // Dropped meanwhile (42704), or taken again (55006): look again.
        if (!(err instanceof postgres.PostgresError && (err.code === "42704" || err.code === "55006"))) throw err;
      }
    } else if (Date.now() >= deadline) {
      throw new SourceError(`replication slot "${slot}" is in use by server process ${state.activePid}; a slot is read by one reader at a time (give each job its own slot)`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A slot just created, and the snapshot exported with it while its connection stays open and idle. */
export interface CreatedSlot {
  readonly consistentPoint: bigint;
  /** Name for SET TRANSACTION SNAPSHOT; undefined when none was asked for. */
  readonly snapshot: string | undefined;
  /** Closes the replication connection: a temporary slot goes with it, and the exported snapshot can no longer be imported. */
  close(): Promise<void>;
}

/**
 * Creates a logical slot (pgoutput) on a replication connection. With
 * `exportSnapshot`, PostgreSQL exports a snapshot that sees exactly the
 * transactions committed before the slot's consistent point; it stays
 * importable until the connection runs another command or closes.
 */
export async function createSlot(url: string, slot: string, o: { temporary: boolean; exportSnapshot: boolean }): Promise<CreatedSlot> {
  const repl = postgres(url, {
    max: 1,
    connect_timeout: 10,
    fetch_types: false,
    onnotice: () => undefined,
    connection: { replication: "database", application_name: "freshet replication setup" },
  });
  try {
    const rows = await repl.unsafe<Array<{ consistent_point: string; snapshot_name: string | null }>>(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slot)}${o.temporary ? " TEMPORARY" : ""} LOGICAL pgoutput ${o.exportSnapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT"}`,
    );
    const row = rows[0];
    const point = row === undefined ? undefined : parseLsn(row.consistent_point);
    if (row === undefined || point === undefined) throw new Error(`CREATE_REPLICATION_SLOT answered ${JSON.stringify(rows)}`);
    return { consistentPoint: point, snapshot: row.snapshot_name ?? undefined, close: () => repl.end({ timeout: 5 }) };
  } catch (err) {
    await repl.end({ timeout: 1 }).catch(() => undefined);
    throw err;
  }
}
