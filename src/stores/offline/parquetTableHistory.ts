/**
 * Table histories as Parquet files, queried with DuckDB: the embedded default.
 *
 * Layout: <dir>/<table>/manifest.json and <dir>/<table>/part-NNNNNN.parquet.
 * The folder is the table name with every character outside [A-Za-z0-9_.-]
 * (and a leading ".") percent-encoded as UTF-8, so any name is one safe folder.
 * Columns are named by position (k0.. for keys, f0.. for features, plus ts and
 * seq), so column names never need quoting or clash in DuckDB's
 * case-insensitive binder; the manifest maps them to the table's names.
 *
 * Parts: appends are buffered in memory and written as a part every
 * `partRows` rows (1M by default), at commit, before a query (a query reads
 * every appended row) and at close. A part is sorted by event time (so
 * DuckDB's row-group statistics prune range queries) and carries `seq`, the
 * append position (part number * 2^32 + index in the buffer), so queries
 * order by (ts, seq) = event time then append order. A part is written to a
 * temporary name, fsynced and renamed: a crash never leaves half a part.
 *
 * Manifest: {format, table, columns, marker, firstPart}, written atomically
 * (temporary file, fsync, rename, directory fsync). begin writes a manifest
 * with no marker and firstPart above every part on disk before deleting the
 * old parts, so a crash at any point leaves either the old committed history
 * or an uncommitted new one, never old parts read as new. Opening a table
 * removes parts below firstPart and temporary files a crash left behind.
 *
 * One process per directory: a store caches each table's manifest and part
 * list, and two writers would each number parts on their own.
 */
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { DOUBLE, DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { parquetWriteBuffer, type ColumnSource } from "hyparquet-writer";
import { z } from "zod";
import type { Row } from "../../core/schema.js";
import { FreshetError, RequestError, StorageError, UnknownTableError } from "../../errors.js";
import {
  checkBatch,
  checkColumns,
  checkQuery,
  columnKind,
  readKey,
  readValue,
  type CheckedBatch,
  type CheckedQuery,
  type ColumnKind,
  type StoredColumn,
  type StoredKey,
  type TableColumns,
  type TableHistoryBatch,
  type TableHistoryQuery,
  type TableHistoryStore,
} from "./tableHistoryStore.js";
import { messageOf } from "../../core/errorMessage.js";
import { syncDirectory, writeFileDurably } from "../../core/durableFile.js";

export interface ParquetTableHistoryOptions {
  /** Buffered rows at which a part is written. Default 1,000,000. */
  readonly partRows?: number;
}

const MANIFEST = "manifest.json";
const PART = /^part-(\d+)\.parquet$/;
/** seq = part * SEQ_PART + index: exact in a double up to 2^21 parts. */
const SEQ_PART = 2 ** 32;

const column = z.object({ name: z.string(), type: z.string() });
const manifestSchema = z.object({
  format: z.literal(1),
  table: z.string(),
  columns: z.object({ keys: z.array(column), features: z.array(column) }),
  marker: z.string().nullable(),
  firstPart: z.number().int().positive(),
});
type Manifest = z.infer<typeof manifestSchema>;

interface TableState {
  manifest: Manifest;
  readonly folder: string;
  readonly keyKinds: readonly ColumnKind[];
  readonly featureKinds: readonly ColumnKind[];
  /** Part files of this history, in part order. */
  readonly parts: string[];
  nextPart: number;
  pending: CheckedBatch[];
  pendingRows: number;
}

export class ParquetTableHistory implements TableHistoryStore {
  readonly kind = "parquet";
  private readonly partRows: number;
  /** Tables opened so far; null when the table has no history on disk. */
  private readonly states = new Map<string, TableState | null>();
  /** Per table, the tail of its operations: each waits for the previous one. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private duck: Promise<DuckDBInstance> | undefined;
  private closed = false;

  constructor(
    readonly dir: string,
    options: ParquetTableHistoryOptions = {},
  ) {
    // read_parquet treats *, ? and [ in a path as a glob.
    if (/[*?[]/.test(dir)) throw new RequestError(`The table history directory ${dir} contains *, ? or [, which DuckDB reads as a glob; choose another directory`, { field: "dir" });
    const partRows = options.partRows ?? 1_000_000;
    if (!Number.isSafeInteger(partRows) || partRows < 1) throw new RequestError(`partRows must be a whole number >= 1, got ${String(partRows)}`, { field: "partRows" });
    this.partRows = partRows;
  }

  begin(table: string, columns: TableColumns): Promise<void> {
    return this.serial(table, async () => {
      checkColumns(table, columns);
      const folder = this.folderOf(table);
      const old = await partNumbers(folder);
      const manifest: Manifest = {
        format: 1,
        table,
        columns: {
          keys: columns.keys.map((c) => ({ name: c.name, type: c.type })),
          features: columns.features.map((c) => ({ name: c.name, type: c.type })),
        },
        marker: null,
        firstPart: old.reduce((max, [n]) => Math.max(max, n), 0) + 1,
      };
      this.states.delete(table);
      await fsStep(`create ${folder}`, () => mkdir(folder, { recursive: true }));
      await writeManifest(folder, manifest);
      await removeStale(folder, manifest.firstPart);
      this.states.set(table, stateOf(folder, manifest, []));
    });
  }

  append(table: string, batch: TableHistoryBatch): Promise<void> {
    return this.serial(table, async () => {
      const s = await this.state(table);
      const checked = checkBatch(table, s.manifest.columns, batch);
      if (checked.length === 0) return;
      s.pending.push(checked);
      s.pendingRows += checked.length;
      if (s.pendingRows >= this.partRows) await writeParts(s, this.partRows);
    });
  }

  commit(table: string, marker: string): Promise<void> {
    return this.serial(table, async () => {
      const s = await this.state(table);
      await writeParts(s, this.partRows);
      const manifest = { ...s.manifest, marker };
      await writeManifest(s.folder, manifest);
      s.manifest = manifest;
    });
  }

  marker(table: string): Promise<string | undefined> {
    return this.serial(table, async () => (await this.load(table))?.manifest.marker ?? undefined);
  }

  query(table: string, q?: TableHistoryQuery): Promise<Row[]> {
    return this.serial(table, async () => {
      const s = await this.state(table);
      const cq = checkQuery(table, s.manifest.columns, q);
      if (cq.none) return [];
      await writeParts(s, this.partRows);
      if (s.parts.length === 0) return [];
      const conn = await this.connect();
      try {
        return await runQuery(conn, s, cq);
      } catch (e) {
        if (e instanceof FreshetError) throw e;
        throw new StorageError(`DuckDB could not query the history of table "${table}" in ${s.folder}: ${messageOf(e)}`, { cause: e });
      } finally {
        conn.closeSync();
      }
    });
  }

  drop(table: string): Promise<void> {
    return this.serial(table, async () => {
      const folder = this.folderOf(table);
      this.states.set(table, null);
      // The manifest first: a crash part way leaves parts without a manifest (no history; the next begin removes them), never a marker without its parts.
      await fsStep(`remove ${join(folder, MANIFEST)}`, () => rm(join(folder, MANIFEST), { force: true }));
      await syncDirectory(folder);
      await fsStep(`remove ${folder}`, () => rm(folder, { recursive: true, force: true }));
    });
  }

  /** Writes buffered rows as parts (so a reopened store reads them), then closes DuckDB. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.queues.values());
    for (const s of this.states.values()) if (s !== null) await writeParts(s, this.partRows);
    this.states.clear();
    const duck = this.duck;
    this.duck = undefined;
    if (duck !== undefined) (await duck).closeSync();
  }

  private serial<T>(table: string, op: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StorageError(`The Parquet table history store at ${this.dir} is closed; open a new ParquetTableHistory.`));
    const next = (this.queues.get(table) ?? Promise.resolve()).then(op);
    this.queues.set(
      table,
      next.then(
        () => undefined,
        () => undefined,
      ),
    );
    return next;
  }

  private async state(table: string): Promise<TableState> {
    const s = await this.load(table);
    if (s === null) throw new UnknownTableError(table, await this.tableNames());
    return s;
  }

  private async load(table: string): Promise<TableState | null> {
    const cached = this.states.get(table);
    if (cached !== undefined) return cached;
    const folder = this.folderOf(table);
    const manifest = await readManifest(folder);
    if (manifest !== null && manifest.table !== table) {
      throw new StorageError(`${join(folder, MANIFEST)} holds table "${manifest.table}", not "${table}": the two names share a folder (a case-insensitive file system?)`);
    }
    let s: TableState | null = null;
    if (manifest !== null) {
      await removeStale(folder, manifest.firstPart);
      s = stateOf(folder, manifest, await partNumbers(folder));
    }
    this.states.set(table, s);
    return s;
  }

  /** Tables with a history, for error messages. */
  private async tableNames(): Promise<string[]> {
    let folders: string[];
    try {
      folders = await readdir(this.dir);
    } catch {
      return [];
    }
    const names: string[] = [];
    for (const f of folders.sort()) {
      const m = await readManifest(join(this.dir, f)).catch(() => null);
      if (m !== null) names.push(m.table);
    }
    return names;
  }

  private folderOf(table: string): string {
    return join(this.dir, folderName(table));
  }

  private async connect(): Promise<DuckDBConnection> {
    this.duck ??= DuckDBInstance.create(":memory:");
    try {
      return await (await this.duck).connect();
    } catch (e) {
      this.duck = undefined;
      throw new StorageError(`Cannot start DuckDB to query table histories in ${this.dir}: ${messageOf(e)}`, { cause: e });
    }
  }
}

function stateOf(folder: string, manifest: Manifest, parts: ReadonlyArray<readonly [number, string]>): TableState {
  const mine = parts.filter(([n]) => n >= manifest.firstPart);
  return {
    manifest,
    folder,
    keyKinds: manifest.columns.keys.map((c) => columnKind(c.type)),
    featureKinds: manifest.columns.features.map((c) => columnKind(c.type)),
    parts: mine.map(([, name]) => join(folder, name)),
    nextPart: mine.reduce((max, [n]) => Math.max(max, n), manifest.firstPart - 1) + 1,
    pending: [],
    pendingRows: 0,
  };
}

/** Percent-encodes what is not safe in one folder name on every platform; "" becomes "%". */
export function folderName(table: string): string {
  if (table === "") return "%";
  let out = "";
  for (const ch of table) {
    if (/^[A-Za-z0-9_-]$/.test(ch) || (ch === "." && out !== "")) out += ch;
    else for (const b of new TextEncoder().encode(ch)) out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Files

async function partNumbers(folder: string): Promise<Array<[number, string]>> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (e) {
    if (isNotFound(e)) return [];
    throw new StorageError(`Cannot list ${folder}: ${messageOf(e)}`, { cause: e });
  }
  const parts: Array<[number, string]> = [];
  for (const name of names) {
    const m = PART.exec(name);
    if (m !== null) parts.push([Number(m[1]), name]);
  }
  return parts.sort((a, b) => a[0] - b[0]);
}

/** Removes parts of earlier histories and temporary files a crash left behind. */
async function removeStale(folder: string, firstPart: number): Promise<void> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (e) {
    if (isNotFound(e)) return;
    throw new StorageError(`Cannot list ${folder}: ${messageOf(e)}`, { cause: e });
  }
  for (const name of names) {
    const m = PART.exec(name);
    if ((m !== null && Number(m[1]) < firstPart) || (name.startsWith(".") && name.endsWith(".tmp"))) {
      await fsStep(`remove ${join(folder, name)}`, () => rm(join(folder, name), { force: true }));
    }
  }
}

async function readManifest(folder: string): Promise<Manifest | null> {
  const path = join(folder, MANIFEST);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (isNotFound(e)) return null;
    throw new StorageError(`Cannot read ${path}: ${messageOf(e)}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new StorageError(`${path} is corrupt (not JSON): ${messageOf(e)}; drop the table's history or begin it again`, { cause: e });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw new StorageError(`${path} is corrupt: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  return parsed.data;
}

async function writeManifest(folder: string, manifest: Manifest): Promise<void> {
  await writeDurably(join(folder, MANIFEST), new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
  await syncDirectory(folder);
}

/** Temporary file, fsync, rename: the path holds the old content or the new, never a mix. */
async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const slash = path.lastIndexOf("/") + 1;
  try {
    await writeFileDurably(path, bytes, `${path.slice(0, slash)}.${path.slice(slash)}.tmp`);
  } catch (e) {
    throw new StorageError(`Cannot write ${path}: ${messageOf(e)}`, { cause: e });
  }
}

async function fsStep<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw new StorageError(`Cannot ${what}: ${messageOf(e)}`, { cause: e });
  }
}

// ---------------------------------------------------------------------------
// Parts

/** Writes the buffered rows (if any) as the next parts of at most `partRows` rows, each sorted by event time with append order kept in seq. */
async function writeParts(s: TableState, partRows: number): Promise<void> {
  if (s.pendingRows === 0) return;
  const n = s.pendingRows;
  const all = concat(s.pending, n, s.keyKinds.length, s.featureKinds);
  let from = 0;
  try {
    while (from < n) {
      const to = Math.min(n, from + partRows);
      await writePart(s, all, from, to);
      from = to;
    }
  } finally {
    // What was not written stays buffered (and is not written twice when a later part fails).
    s.pending = from < n ? [{ length: n - from, ts: all.ts.slice(from), keys: all.keys.map((c) => c.slice(from)), values: all.values.map((c) => c.slice(from)) }] : [];
    s.pendingRows = n - from;
  }
}

async function writePart(s: TableState, all: Concatenated, from: number, to: number): Promise<void> {
  const { ts, keys, values } = all;
  const part = s.nextPart;
  // Buffer positions from..to-1, stably sorted by event time (skipped when already in order).
  const order = Array.from({ length: to - from }, (_, i) => from + i);
  let sorted = true;
  for (let i = from + 1; i < to && sorted; i++) sorted = (ts[i - 1] as number) <= (ts[i] as number);
  if (!sorted) order.sort((a, b) => (ts[a] as number) - (ts[b] as number));
  const columnData: ColumnSource[] = [
    ...keys.map((col, k) => parquetColumn(`k${k}`, s.keyKinds[k] as ColumnKind, col, order, false)),
    { name: "ts", data: Float64Array.from(order, (i) => ts[i] as number), type: "DOUBLE", nullable: false },
    { name: "seq", data: Float64Array.from(order, (i) => part * SEQ_PART + (i - from)), type: "DOUBLE", nullable: false },
    ...values.map((col, f) => parquetColumn(`f${f}`, s.featureKinds[f] as ColumnKind, col, order, true)),
  ];
  const name = `part-${String(part).padStart(6, "0")}.parquet`;
  const path = join(s.folder, name);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(parquetWriteBuffer({ columnData }));
  } catch (e) {
    throw new StorageError(`Cannot encode history part ${path}: ${messageOf(e)}`, { cause: e });
  }
  await writeDurably(path, bytes);
  s.parts.push(path);
  s.nextPart = part + 1;
}

interface Concatenated {
  readonly ts: Float64Array;
  readonly keys: StoredKey[][];
  readonly values: StoredColumn[];
}

/** The buffered batches as one batch. */
function concat(chunks: readonly CheckedBatch[], n: number, keyCount: number, featureKinds: readonly ColumnKind[]): Concatenated {
  const ts = new Float64Array(n);
  const keys = Array.from({ length: keyCount }, () => new Array<StoredKey>(n));
  const values = featureKinds.map((kind) => (kind === "number" ? new Float64Array(n) : new Array<string | boolean | null>(n)));
  let o = 0;
  for (const ch of chunks) {
    ts.set(ch.ts, o);
    keys.forEach((out, k) => {
      const col = ch.keys[k] ?? [];
      for (let i = 0; i < ch.length; i++) out[o + i] = col[i] as StoredKey;
    });
    values.forEach((out, f) => {
      const col = ch.values[f] ?? [];
      if (out instanceof Float64Array) {
        if (col instanceof Float64Array) out.set(col, o);
      } else {
        for (let i = 0; i < ch.length; i++) out[o + i] = (col[i] ?? null) as string | boolean | null;
      }
    });
    o += ch.length;
  }
  return { ts, keys, values };
}

function parquetColumn(name: string, kind: ColumnKind, col: ArrayLike<unknown>, order: readonly number[], nullable: boolean): ColumnSource {
  const data = order.map((i) => {
    const v = col[i];
    return v === undefined || (typeof v === "number" && Number.isNaN(v)) ? null : v;
  });
  const type = kind === "number" ? "DOUBLE" : kind === "bool" ? "BOOLEAN" : "STRING";
  return { name, data, type, nullable };
}

// ---------------------------------------------------------------------------
// Queries

function sqlType(kind: ColumnKind): string {
  return kind === "number" ? "DOUBLE" : kind === "bool" ? "BOOLEAN" : "VARCHAR";
}

function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

async function runQuery(conn: DuckDBConnection, s: TableState, q: CheckedQuery): Promise<Row[]> {
  const nk = s.keyKinds.length;
  const nf = s.featureKinds.length;
  let join = "";
  if (q.keys !== undefined) {
    // The wanted keys go into a temporary table (per connection, and this
    // connection is the query's own), joined by DuckDB's hash semi join.
    await conn.run(`CREATE TEMP TABLE wanted (${s.keyKinds.map((k, i) => `k${i} ${sqlType(k)}`).join(", ")})`);
    const appender = await conn.createAppender("wanted", "main", "temp");
    const count = q.keys[0]?.length ?? 0;
    for (let t = 0; t < count; t++) {
      for (const col of q.keys) {
        const v = col[t] as StoredKey;
        if (typeof v === "number") appender.appendDouble(v);
        else if (typeof v === "boolean") appender.appendBoolean(v);
        else appender.appendVarchar(v);
      }
      appender.endRow();
    }
    appender.closeSync();
    join = `SEMI JOIN wanted w ON ${s.keyKinds.map((_, i) => `h.k${i} = w.k${i}`).join(" AND ")}`;
  }
  const where: string[] = [];
  const params: number[] = [];
  if (q.start > Number.NEGATIVE_INFINITY) where.push(`h.ts >= $${params.push(q.start)}`);
  if (q.end < Number.POSITIVE_INFINITY) where.push(`h.ts < $${params.push(q.end)}`);
  const select = [...Array.from({ length: nk }, (_, i) => `h.k${i}`), "h.ts", ...Array.from({ length: nf }, (_, i) => `h.f${i}`)].join(", ");
  const sql = `SELECT ${select} FROM read_parquet([${s.parts.map(sqlString).join(", ")}]) h ${join}
    ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY h.ts, h.seq`;
  const reader = await conn.runAndReadAll(sql, params, params.map(() => DOUBLE));
  const cols = reader.getColumnsJS();
  const n = reader.currentRowCount;
  const keyNames = s.manifest.columns.keys.map((c) => c.name);
  const featureNames = s.manifest.columns.features.map((c) => c.name);
  const tsCol = cols[nk] ?? [];
  const rows = new Array<Row>(n);
  for (let i = 0; i < n; i++) {
    const row: Row = {};
    for (let k = 0; k < nk; k++) row[keyNames[k] as string] = readKey(s.keyKinds[k] as ColumnKind, cols[k]?.[i]);
    row["ts"] = tsCol[i];
    for (let f = 0; f < nf; f++) row[featureNames[f] as string] = readValue(s.featureKinds[f] as ColumnKind, cols[nk + 1 + f]?.[i]);
    rows[i] = row;
  }
  return rows;
}

function isNotFound(e: unknown): boolean {
  return e instanceof Error && "code" in e && e.code === "ENOENT";
}

