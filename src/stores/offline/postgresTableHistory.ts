/**
 * Table histories in PostgreSQL, under one schema ("freshet_offline" by
 * default), so several processes read what one wrote.
 *
 * Tables: `histories` (the manifest: table name, the id of its SQL table,
 * columns as jsonb, the commit marker) and one SQL table `h<id>` per history,
 * with columns named by position: seq (identity: the append position), k0..
 * (keys: double precision, text, boolean, or JSON text for json keys, so keys
 * compare by their JSON text as in the other stores), ts (double precision,
 * epoch ms) and f0.. (double precision, text, boolean or jsonb), and an index
 * on (ts, seq). Positional names mean a table's names never need quoting and
 * are never truncated at 63 bytes; the manifest maps them back.
 *
 * begin is one transaction (under an advisory lock per table name): drop the
 * old SQL table and manifest row, create the new table with a fresh id. A
 * reader therefore sees the old history or the new one. An append is one
 * transaction of multi-row INSERTs (10,000 rows each, every column sent as
 * one text array and unnested), so it is stored whole or not at all, and
 * seq follows the order of the rows. (COPY FROM STDIN was tried: postgres.js
 * writes its data and end messages separately, and Nagle's algorithm with the
 * server's delayed ACK added ~40 ms to every append, however small.)
 *
 * PostgreSQL text cannot hold the character U+0000: a batch with one in a
 * string or JSON value is refused with a SchemaError naming it.
 *
 * Errors: failures to reach or use the server are StorageErrors naming
 * PostgreSQL and its address (host:port/database, never the password).
 */
import postgres from "postgres";
import { z } from "zod";
import type { Row } from "../../core/schema.js";
import { FreshetError, RequestError, SchemaError, StorageError, UnknownTableError } from "../../errors.js";
import {
  checkBatch,
  checkColumns,
  checkQuery,
  columnKind,
  readKey,
  readValue,
  type CheckedBatch,
  type ColumnKind,
  type StoredKey,
  type TableColumns,
  type TableHistoryBatch,
  type TableHistoryQuery,
  type TableHistoryStore,
} from "./tableHistoryStore.js";
import { messageOf } from "../../core/errorMessage.js";
import { postgresAddress } from "../../core/databaseUrl.js";

export interface PostgresTableHistoryOptions {
  /** Schema holding the manifest and the history tables; created if absent. Default "freshet_offline". */
  readonly schema?: string;
  /** Pool size. Default 4. */
  readonly maxConnections?: number;
}

/** Plain identifiers only: the schema name is spliced into SQL. */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Rows per INSERT statement (all of one append run in one transaction). */
const INSERT_ROWS = 10_000;

const column = z.object({ name: z.string(), type: z.string() });
const manifestRow = z.object({
  id: z.union([z.number(), z.string().regex(/^\d+$/)]).transform(Number),
  columns: z.object({ keys: z.array(column), features: z.array(column) }),
});

interface History {
  readonly id: number;
  readonly columns: TableColumns;
  readonly keyKinds: readonly ColumnKind[];
  readonly featureKinds: readonly ColumnKind[];
}

export class PostgresTableHistory implements TableHistoryStore {
  readonly kind = "postgres";
  private closed = false;
  private readonly manifest: postgres.Helper<string>;

  private constructor(
    private readonly sql: postgres.Sql,
    readonly schema: string,
    /** host:port/database, for messages. */
    readonly address: string,
  ) {
    this.manifest = sql(`${schema}.histories`);
  }

  /** Connects, and creates the schema and manifest table when absent. A server that cannot be reached is a StorageError naming it. */
  static async connect(url: string, options: PostgresTableHistoryOptions = {}): Promise<PostgresTableHistory> {
    const schema = options.schema ?? "freshet_offline";
    if (!SCHEMA_NAME.test(schema)) {
      throw new RequestError(`PostgreSQL schema name ${JSON.stringify(schema)} must be a plain identifier (letters, digits, _; at most 63)`, { field: "schema" });
    }
    const address = postgresAddress(url);
    let sql: postgres.Sql;
    try {
      sql = postgres(url, { max: options.maxConnections ?? 4, connect_timeout: 10, onnotice: () => undefined });
    } catch (e) {
      throw new StorageError(`Cannot connect to PostgreSQL at ${address}: ${messageOf(e)}`, { cause: e });
    }
    const store = new PostgresTableHistory(sql, schema, address);
    try {
      await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${`freshet offline ${schema}`}))`;
        await tx`CREATE SCHEMA IF NOT EXISTS ${sql(schema)}`;
        await tx`CREATE SEQUENCE IF NOT EXISTS ${sql(`${schema}.history_ids`)}`;
        await tx`
          CREATE TABLE IF NOT EXISTS ${store.manifest} (
            name text PRIMARY KEY,
            id bigint NOT NULL UNIQUE,
            columns jsonb NOT NULL,
            marker text
          )`;
      });
    } catch (e) {
      await sql.end({ timeout: 0 }).catch(() => undefined);
      throw store.storageError(e, `create the table history manifest in schema "${schema}"`);
    }
    return store;
  }

  begin(table: string, columns: TableColumns): Promise<void> {
    return this.run(`begin the history of table "${table}"`, async () => {
      checkColumns(table, columns);
      const copy: TableColumns = {
        keys: columns.keys.map((c) => ({ name: c.name, type: c.type })),
        features: columns.features.map((c) => ({ name: c.name, type: c.type })),
      };
      await this.sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${`freshet offline ${this.schema} ${table}`}))`;
        const old = await tx`DELETE FROM ${this.manifest} WHERE name = ${table} RETURNING id`;
        for (const r of old) await tx.unsafe(`DROP TABLE IF EXISTS ${this.tableName(Number(r["id"]))}`);
        const [next] = await tx`SELECT nextval(${`${this.schema}.history_ids`}::regclass) AS id`;
        const id = Number(next?.["id"]);
        const cols = [
          "seq bigint GENERATED ALWAYS AS IDENTITY",
          ...copy.keys.map((c, k) => `k${k} ${sqlType(columnKind(c.type), true)} NOT NULL`),
          "ts double precision NOT NULL",
          ...copy.features.map((c, f) => `f${f} ${sqlType(columnKind(c.type), false)}`),
        ];
        await tx.unsafe(`CREATE TABLE ${this.tableName(id)} (${cols.join(", ")})`);
        await tx.unsafe(`CREATE INDEX ON ${this.tableName(id)} (ts, seq)`);
        await tx`INSERT INTO ${this.manifest} (name, id, columns, marker) VALUES (${table}, ${id}, ${JSON.stringify(copy)}::text::jsonb, NULL)`;
      });
    });
  }

  append(table: string, batch: TableHistoryBatch): Promise<void> {
    return this.run(`append to the history of table "${table}"`, async () => {
      const h = await this.history(table);
      const checked = checkBatch(table, h.columns, batch);
      if (checked.length === 0) return;
      refuseNul(table, h, checked);
      const names = [...h.keyKinds.map((_, k) => `k${k}`), "ts", ...h.featureKinds.map((_, f) => `f${f}`)];
      const arrays = [...h.keyKinds.map((kind) => arrayType(kind, true)), "float8[]", ...h.featureKinds.map((kind) => arrayType(kind, false))];
      // One text array per column, cast to the column's type; ORDER BY ord makes seq follow the rows' order.
      const insert =
        `INSERT INTO ${this.tableName(h.id)} (${names.join(", ")}) SELECT ${names.join(", ")} ` +
        `FROM unnest(${arrays.map((type, i) => `$${i + 1}::text[]::${type}`).join(", ")}) WITH ORDINALITY AS u(${names.join(", ")}, ord) ORDER BY ord`;
      const columns: ReadonlyArray<ArrayLike<StoredKey | null>> = [...checked.keys, checked.ts, ...checked.values];
      await this.sql.begin(async (tx) => {
        for (let from = 0; from < checked.length; from += INSERT_ROWS) {
          const to = Math.min(checked.length, from + INSERT_ROWS);
          await tx.unsafe(
            insert,
            columns.map((col) => sqlTexts(col, from, to)),
          );
        }
      });
    });
  }

  commit(table: string, marker: string): Promise<void> {
    return this.run(`commit the history of table "${table}"`, async () => {
      const updated = await this.sql`UPDATE ${this.manifest} SET marker = ${marker} WHERE name = ${table} RETURNING name`;
      if (updated.length === 0) throw new UnknownTableError(table, await this.tableNames());
    });
  }

  marker(table: string): Promise<string | undefined> {
    return this.run(`read the marker of table "${table}"`, async () => {
      const [row] = await this.sql`SELECT marker FROM ${this.manifest} WHERE name = ${table}`;
      const marker: unknown = row?.["marker"];
      return typeof marker === "string" ? marker : undefined;
    });
  }

  query(table: string, q?: TableHistoryQuery): Promise<Row[]> {
    return this.run(`query the history of table "${table}"`, async () => {
      const h = await this.history(table);
      const cq = checkQuery(table, h.columns, q);
      if (cq.none) return [];
      const where: string[] = [];
      const params: Array<number | string[]> = [];
      if (cq.start > Number.NEGATIVE_INFINITY) where.push(`ts >= $${params.push(cq.start)}::float8`);
      if (cq.end < Number.POSITIVE_INFINITY) where.push(`ts < $${params.push(cq.end)}::float8`);
      if (cq.keys !== undefined) {
        // Each key column as one text array, cast to the column's type: one parameter per column however many keys.
        const arrays = cq.keys.map((col, k) => `$${params.push(col.map(keyText))}::text[]${arrayCast(h.keyKinds[k] as ColumnKind)}`);
        where.push(`(${h.keyKinds.map((_, k) => `k${k}`).join(", ")}) IN (SELECT * FROM unnest(${arrays.join(", ")}))`);
      }
      const select = [...h.keyKinds.map((_, k) => `k${k}`), "ts", ...h.featureKinds.map((kind, f) => (kind === "json" ? `f${f}::text` : `f${f}`))];
      const text = `SELECT ${select.join(", ")} FROM ${this.tableName(h.id)}${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY ts, seq`;
      const result: ReadonlyArray<readonly unknown[]> = await this.sql.unsafe(text, params).values();
      const keyNames = h.columns.keys.map((c) => c.name);
      const featureNames = h.columns.features.map((c) => c.name);
      const nk = keyNames.length;
      return result.map((r) => {
        const row: Row = {};
        for (let k = 0; k < nk; k++) row[keyNames[k] as string] = readKey(h.keyKinds[k] as ColumnKind, r[k]);
        row["ts"] = r[nk];
        featureNames.forEach((name, f) => (row[name] = readValue(h.featureKinds[f] as ColumnKind, r[nk + 1 + f])));
        return row;
      });
    });
  }

  drop(table: string): Promise<void> {
    return this.run(`drop the history of table "${table}"`, async () => {
      await this.sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${`freshet offline ${this.schema} ${table}`}))`;
        const old = await tx`DELETE FROM ${this.manifest} WHERE name = ${table} RETURNING id`;
        for (const r of old) await tx.unsafe(`DROP TABLE IF EXISTS ${this.tableName(Number(r["id"]))}`);
      });
    });
  }

  /** Waits for running queries (up to 5 s), then closes the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sql.end({ timeout: 5 });
  }

  /** The SQL table of history `id`: schema and id are plain identifiers, so it is spliced unquoted. */
  private tableName(id: number): string {
    if (!Number.isSafeInteger(id)) throw new StorageError(`PostgreSQL at ${this.address}: ${this.schema}.histories holds a history id that is not a whole number`);
    return `${this.schema}.h${id}`;
  }

  private async history(table: string): Promise<History> {
    const [row] = await this.sql`SELECT id, columns FROM ${this.manifest} WHERE name = ${table}`;
    if (row === undefined) throw new UnknownTableError(table, await this.tableNames());
    const parsed = manifestRow.safeParse(row);
    if (!parsed.success) {
      throw new StorageError(`PostgreSQL at ${this.address}: the row of table "${table}" in ${this.schema}.histories is corrupt: ${z.prettifyError(parsed.error)}`, {
        cause: parsed.error,
      });
    }
    const { id, columns } = parsed.data;
    return { id, columns, keyKinds: columns.keys.map((c) => columnKind(c.type)), featureKinds: columns.features.map((c) => columnKind(c.type)) };
  }

  private async tableNames(): Promise<string[]> {
    const rows = await this.sql`SELECT name FROM ${this.manifest} ORDER BY name`;
    return rows.map((r) => String(r["name"]));
  }

  /** Runs `op`, turning anything that is not already a FreshetError into a StorageError naming the server. */
  private async run<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StorageError(`The PostgreSQL table history store at ${this.address} is closed; connect again with PostgresTableHistory.connect().`);
    try {
      return await op();
    } catch (e) {
      throw this.storageError(e, what);
    }
  }

  private storageError(e: unknown, what: string): FreshetError {
    if (e instanceof FreshetError) return e;
    const message = messageOf(e);
    if (e instanceof postgres.PostgresError) {
      return new StorageError(`PostgreSQL at ${this.address} refused to ${what}: ${message} (SQLSTATE ${e.code})`, { cause: e });
    }
    return new StorageError(`Cannot reach PostgreSQL at ${this.address} (to ${what}): ${message}. Check that the server is running and the URL is right.`, {
      cause: e,
    });
  }
}

function sqlType(kind: ColumnKind, key: boolean): string {
  switch (kind) {
    case "number":
      return "double precision";
    case "bool":
      return "boolean";
    case "string":
      return "text";
    case "json":
      return key ? "text" : "jsonb";
  }
}

function arrayType(kind: ColumnKind, key: boolean): string {
  return `${sqlType(kind, key)}[]`;
}

function arrayCast(kind: ColumnKind): string {
  return kind === "number" ? "::float8[]" : kind === "bool" ? "::boolean[]" : "";
}

/** A key as text PostgreSQL casts back to the same value (String(-0) is "0", equal to -0 anyway). */
function keyText(v: StoredKey): string {
  return typeof v === "string" ? v : String(v);
}

/** JSON text with an escaped U+0000 (an even number of backslashes before "\u0000"). */
const JSON_NUL = /(?:^|[^\\])(?:\\\\)*\\u0000/;

function refuseNul(table: string, h: History, b: CheckedBatch): void {
  const check = (name: string, kind: ColumnKind, v: unknown, row: number): void => {
    if (typeof v !== "string") return;
    if (kind === "string" ? v.includes("\0") : kind === "json" && JSON_NUL.test(v)) {
      throw new SchemaError(`appending to the history of table "${table}": PostgreSQL text cannot hold the character U+0000`, { row, field: name });
    }
  };
  h.keyKinds.forEach((kind, k) => {
    const name = h.columns.keys[k]?.name ?? "";
    b.keys[k]?.forEach((v, i) => check(name, kind, v, i));
  });
  h.featureKinds.forEach((kind, f) => {
    const name = h.columns.features[f]?.name ?? "";
    const col = b.values[f];
    if (kind !== "number" && col !== undefined && !(col instanceof Float64Array)) col.forEach((v, i) => check(name, kind, v, i));
  });
}

/** Values from..to-1 of a column as PostgreSQL input text: null for null and NaN, "-0" kept, Infinity as PostgreSQL spells it. */
function sqlTexts(col: ArrayLike<StoredKey | null>, from: number, to: number): Array<string | null> {
  const out = new Array<string | null>(to - from);
  for (let i = from; i < to; i++) {
    const v = col[i];
    out[i - from] =
      v === null || v === undefined
        ? null
        : typeof v === "number"
          ? Number.isNaN(v)
            ? null
            : Object.is(v, -0)
              ? "-0"
              : String(v)
          : typeof v === "boolean"
            ? v
              ? "t"
              : "f"
            : v;
  }
  return out;
}


