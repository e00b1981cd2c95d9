import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, type AsyncBuffer, type FileMetaData } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { parquetWriteFile, type ColumnSource } from "hyparquet-writer";
import { rowFactory, type RowFactory } from "../../core/objectLiteral.js";
import type { FieldType, Row, Schema } from "../../core/schema.js";
import { StorageError } from "../../errors.js";
import { ColumnLog } from "./columnLog.js";
import { concatHistory, type BatchArrival, type HistoryBatch, type HistoryStore } from "./historyStore.js";

/**
 * History as Parquet files: <dir>/<dataset>/part-NNNNNN.parquet, one file per
 * flush, rows in processing order. Timestamps are stored as DOUBLE epoch
 * milliseconds (UTC). Batches appended with a BatchArrival add a DOUBLE
 * column ARRIVAL_COLUMN to their part (parts without it read as arrival 0)
 * and, when some had rows dropped as late by union tables, a STRING column
 * LATE_FOR_COLUMN (JSON on a batch's first row). A part is written to a
 * temporary name and renamed, so a crash never leaves half a part behind.
 */
export class ParquetHistory implements HistoryStore {
  private readonly pending = new Map<string, ColumnLog>();
  private readonly versions = new Map<string, number>();

  constructor(private readonly dir: string) {}

  append(dataset: string, schema: Schema, rows: readonly Row[], ts: Float64Array, merge?: BatchArrival): void {
    let p = this.pending.get(dataset);
    if (p === undefined) this.pending.set(dataset, (p = new ColumnLog(schema)));
    p.append(rows, ts, merge);
    this.versions.set(dataset, this.version(dataset) + 1);
  }

  version(dataset: string): number {
    return this.versions.get(dataset) ?? 0;
  }

  /** Every part on disk plus what is pending; callers cache what they derive from it (by version). */
  async scan(dataset: string, schema: Schema, timestampField: string): Promise<HistoryBatch> {
    const parts: HistoryBatch[] = [];
    for (const file of await this.partFiles(dataset)) parts.push(await readPart(join(this.dir, dataset, file), schema, timestampField));
    const pending = this.pending.get(dataset);
    if (pending !== undefined && pending.length > 0) parts.push(pending.toBatch());
    return concatHistory(parts);
  }

  /** Every part row group by row group, then what is pending (as of the call). */
  async *batches(dataset: string, schema: Schema, timestampField: string): AsyncIterable<HistoryBatch> {
    const files = await this.partFiles(dataset);
    // What is pending now: a flush meanwhile writes it to a part not in `files`.
    const pendingBatches = this.pending.get(dataset)?.batches() ?? [];
    for (const name of files) {
      const part = await openPart(join(this.dir, dataset, name));
      let start = 0;
      for (const group of part.meta.row_groups) {
        const end = start + Number(group.num_rows);
        yield await readRows(part, schema, timestampField, start, end);
        start = end;
      }
    }
    yield* pendingBatches;
  }

  async flush(schemas: ReadonlyMap<string, { schema: Schema; timestamp: string }>): Promise<void> {
    for (const [dataset, log] of this.pending) {
      if (log.length === 0) continue;
      const def = schemas.get(dataset);
      if (def === undefined) continue;
      const folder = join(this.dir, dataset);
      await mkdir(folder, { recursive: true });
      const existing = await this.partFiles(dataset);
      const name = `part-${String(existing.length + 1).padStart(6, "0")}.parquet`;
      const tmp = join(folder, `.${name}.tmp`);
      try {
        await parquetWriteFile({ filename: tmp, columnData: columnsOf(log, def.schema) });
        await rename(tmp, join(folder, name));
      } catch (cause) {
        throw new StorageError(`cannot write history part ${join(folder, name)}`, { cause });
      }
      this.pending.set(dataset, new ColumnLog(def.schema));
    }
  }

  /** Parts on disk per dataset. */
  async marks(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return out;
    }
    for (const d of names) out[d] = (await this.partFiles(d)).length;
    return out;
  }

  /** Removes parts numbered above `mark` (written by a flush whose state commit did not happen). */
  async discardAfter(dataset: string, mark: number): Promise<void> {
    for (const f of await this.partFiles(dataset)) {
      const n = Number(/^part-(\d+)\.parquet$/.exec(f)?.[1]);
      if (n > mark) {
        await rm(join(this.dir, dataset, f), { force: true });
        this.versions.set(dataset, this.version(dataset) + 1);
      }
    }
  }

  async close(): Promise<void> {}

  private async partFiles(dataset: string): Promise<string[]> {
    try {
      return (await readdir(join(this.dir, dataset))).filter((f) => /^part-\d+\.parquet$/.test(f)).sort();
    } catch {
      return [];
    }
  }
}

function parquetType(ft: FieldType): "STRING" | "DOUBLE" | "BOOLEAN" {
  switch (ft.kind) {
    case "string":
      return "STRING";
    case "bool":
      return "BOOLEAN";
    default:
      return "DOUBLE";
  }
}

/** The columns of BatchArrival; dataset field names cannot start with "__freshet". */
const ARRIVAL_COLUMN = "__freshet_arrival";
const LATE_FOR_COLUMN = "__freshet_late_for";

function columnsOf(log: ColumnLog, schema: Schema): ColumnSource[] {
  const columns: ColumnSource[] = Object.entries(schema).map(([name, ft]) => {
    const data = log.column(name);
    return { name, data, type: parquetType(ft), nullable: ft.nullable };
  });
  const arrivals = log.arrivalColumn();
  if (arrivals !== undefined) columns.push({ name: ARRIVAL_COLUMN, data: Array.from(arrivals), type: "DOUBLE", nullable: false });
  const lateFor = log.lateForColumn();
  if (lateFor !== undefined) columns.push({ name: LATE_FOR_COLUMN, data: lateFor, type: "STRING", nullable: true });
  return columns;
}

async function readPart(path: string, schema: Schema, timestampField: string): Promise<HistoryBatch> {
  const part = await openPart(path);
  return readRows(part, schema, timestampField, 0, Number(part.meta.num_rows));
}

interface OpenPart {
  readonly path: string;
  readonly file: AsyncBuffer;
  readonly meta: FileMetaData;
}

async function openPart(path: string): Promise<OpenPart> {
  try {
    const file = await asyncBufferFromFile(path);
    return { path, file, meta: await parquetMetadataAsync(file) };
  } catch (cause) {
    throw new StorageError(`cannot read history part ${path}`, { cause });
  }
}

/** Rows [start, end) of a part (a row group, or all of it). */
async function readRows(part: OpenPart, schema: Schema, timestampField: string, start: number, end: number): Promise<HistoryBatch> {
  const { path, file, meta } = part;
  try {
    const n = end - start;
    const names = Object.keys(schema);
    const withArrivals = meta.schema.some((el) => el.name === ARRIVAL_COLUMN);
    const withLateFor = withArrivals && meta.schema.some((el) => el.name === LATE_FOR_COLUMN);
    const columns = new Map<string, unknown[]>();
    await parquetRead({
      file,
      metadata: meta,
      rowStart: start,
      rowEnd: end,
      columns: [...names, ...(withArrivals ? [ARRIVAL_COLUMN] : []), ...(withLateFor ? [LATE_FOR_COLUMN] : [])],
      compressors,
      onChunk(chunk) {
        let col = columns.get(chunk.columnName);
        if (col === undefined) columns.set(chunk.columnName, (col = new Array<unknown>(n)));
        const data = chunk.columnData;
        // Chunks are whole pages: they may begin before `start` or run past `end`.
        const from = Math.max(0, start - chunk.rowStart);
        const to = Math.min(data.length, end - chunk.rowStart);
        for (let i = from; i < to; i++) col[chunk.rowStart - start + i] = data[i];
      },
    });
    const rows = new Array<Row>(n);
    const cols = names.map((name) => columns.get(name) ?? new Array<unknown>(n).fill(null));
    const make = rowFactoryOf(names);
    for (let i = 0; i < n; i++) rows[i] = make(cols, i);
    const tsCol = columns.get(timestampField) ?? [];
    const ts = new Float64Array(n);
    for (let i = 0; i < n; i++) ts[i] = Number(tsCol[i]);
    if (!withArrivals) return { rows, ts };
    const arrivalCol = columns.get(ARRIVAL_COLUMN) ?? [];
    const arrivals = new Float64Array(n);
    for (let i = 0; i < n; i++) arrivals[i] = Number(arrivalCol[i] ?? 0);
    if (!withLateFor) return { rows, ts, arrivals };
    const lateForCol = columns.get(LATE_FOR_COLUMN) ?? [];
    const lateFor = new Map<number, Record<string, number>>();
    for (let i = 0; i < n; i++) {
      const v = lateForCol[i];
      if (typeof v === "string") lateFor.set(arrivals[i] as number, JSON.parse(v) as Record<string, number>);
    }
    return { rows, ts, arrivals, lateFor };
  } catch (cause) {
    throw new StorageError(`cannot read history part ${path}`, { cause });
  }
}

/** The row factories of history parts, by field list: a part is read a row group at a time. */
const rowFactories = new Map<string, RowFactory>();

function rowFactoryOf(names: readonly string[]): RowFactory {
  const id = JSON.stringify(names);
  let make = rowFactories.get(id);
  if (make === undefined) rowFactories.set(id, (make = rowFactory(names, true)));
  return make;
}
