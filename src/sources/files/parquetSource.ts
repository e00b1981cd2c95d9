/**
 * Parquet files as a RowSource, read with hyparquet one row group at a time.
 *
 * Speed is the point of this file. hyparquet decodes a row group column by
 * column; asking it for row objects (parquetReadObjects) is markedly slower
 * than taking the decoded columns and building the row objects here with a
 * generated constructor, which gives every row the same hidden class. Rows
 * are built one batch at a time, so only one row group's columns and one
 * batch of objects are alive at once.
 *
 * Values are kept as hyparquet decodes them (Date for timestamps, bigint for
 * INT64, string for UTF8): the RowParser accepts all of those.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import {
  asyncBufferFromFile,
  parquetMetadata,
  parquetMetadataAsync,
  parquetRead,
  parquetSchema,
  type AsyncBuffer,
  type ColumnData,
  type DecodedArray,
  type FileMetaData,
} from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { DefinitionError, SourceError } from "../../errors.js";
import { batchSizeOption, type RowSource } from "../rowSource.js";
import { messageOf } from "../../core/errorMessage.js";
import { rowFactory } from "../../core/objectLiteral.js";

export interface ParquetSourceOptions {
  /** Top-level columns to read, in this order; default all, in file order. */
  readonly columns?: readonly string[];
  /** Most rows per batch; default 65,536. A batch never spans two row groups. */
  readonly batchSize?: number;
}


/**
 * Streams a Parquet file's rows as plain objects. All codecs hyparquet-
 * compressors knows work (SNAPPY, GZIP, BROTLI, ZSTD, LZ4).
 *
 * `size` is the file's row count, read synchronously from the footer when
 * the source is made so progress bars know it up front. If the file cannot
 * be read then, `size` is left out and `batches()` reports the problem as a
 * SourceError; making the source itself never fails on I/O.
 */
export function parquetSource(path: string, options: ParquetSourceOptions = {}): RowSource {
  const batchSize = batchSizeOption("parquetSource", options.batchSize);
  const wanted = checkColumns(options.columns);
  const rowCount = readRowCountSync(path);
  return {
    kind: "parquet",
    description: path,
    text: false,
    ...(rowCount !== undefined ? { size: rowCount } : {}),
    batches: () => readBatches(path, wanted, batchSize),
  };
}

async function* readBatches(path: string, wanted: readonly string[] | undefined, batchSize: number): AsyncGenerator<unknown[]> {
  const file = await openFile(path);
  // Read the footer again rather than trusting the one read at construction:
  // the file may have been rewritten in between.
  const metadata = await readMetadata(file, path);
  const names = selectColumns(metadata, wanted, path);
  const makeRow = rowFactory(names);
  let groupStart = 0;
  for (const [index, group] of metadata.row_groups.entries()) {
    const groupRows = Number(group.num_rows);
    const groupEnd = groupStart + groupRows;
    if (groupRows > 0) {
      const columns = await readRowGroup(file, metadata, names, groupStart, groupEnd, path, index);
      for (let start = 0; start < groupRows; start += batchSize) {
        const end = Math.min(groupRows, start + batchSize);
        const batch = new Array<unknown>(end - start);
        for (let i = start; i < end; i++) batch[i - start] = makeRow(columns, i);
        yield batch;
      }
    }
    groupStart = groupEnd;
  }
}

/** Decodes one row group and returns one array per column, indexed by row within the group. */
async function readRowGroup(
  file: AsyncBuffer,
  metadata: FileMetaData,
  names: readonly string[],
  groupStart: number,
  groupEnd: number,
  path: string,
  index: number,
): Promise<DecodedArray[]> {
  const chunks = new Map<string, ColumnData[]>();
  try {
    await parquetRead({
      file,
      metadata,
      columns: [...names],
      compressors,
      rowStart: groupStart,
      rowEnd: groupEnd,
      // onChunk hands over whole decoded column chunks without building rows.
      onChunk: (chunk) => {
        const list = chunks.get(chunk.columnName);
        if (list === undefined) chunks.set(chunk.columnName, [chunk]);
        else list.push(chunk);
      },
    });
  } catch (err) {
    throw new SourceError(
      `cannot decode Parquet row group ${index} (rows ${groupStart + 1}-${groupEnd}): ${messageOf(err)}`,
      { file: path },
      { cause: err },
    );
  }
  return names.map((name) => columnRange(chunks.get(name) ?? [], groupStart, groupEnd, name, path));
}

/**
 * The values of rows [start, end) of one column. Usually hyparquet delivers a
 * row group's column as a single chunk that is used as is; otherwise (several
 * chunks, or chunks reaching outside the range, which hyparquet allows) the
 * values are copied into one array.
 */
function columnRange(chunks: readonly ColumnData[], start: number, end: number, name: string, path: string): DecodedArray {
  const only = chunks.length === 1 ? chunks[0] : undefined;
  if (only !== undefined && only.rowStart === start && only.rowEnd === end) return only.columnData;
  const out = new Array<unknown>(end - start);
  let filled = 0;
  for (const chunk of chunks) {
    const from = Math.max(start, chunk.rowStart);
    const to = Math.min(end, chunk.rowEnd);
    for (let r = from; r < to; r++) out[r - start] = chunk.columnData[r - chunk.rowStart];
    filled += Math.max(0, to - from);
  }
  // Never hand on holes as if they were nulls: that would be silent data loss.
  if (filled !== end - start) {
    throw new SourceError(`Parquet column "${name}" decoded ${filled} of ${end - start} rows (rows ${start + 1}-${end})`, { file: path });
  }
  return out;
}

async function openFile(path: string): Promise<AsyncBuffer> {
  try {
    return await asyncBufferFromFile(path);
  } catch (err) {
    const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
    if (code === "ENOENT") throw new SourceError("Parquet file does not exist", { file: path }, { cause: err });
    throw new SourceError(`cannot open Parquet file: ${messageOf(err)}`, { file: path }, { cause: err });
  }
}

async function readMetadata(file: AsyncBuffer, path: string): Promise<FileMetaData> {
  try {
    return await parquetMetadataAsync(file);
  } catch (err) {
    throw new SourceError(`not a readable Parquet file: ${messageOf(err)}`, { file: path }, { cause: err });
  }
}

/** The top-level column names to read, checked against the file's schema. */
function selectColumns(metadata: FileMetaData, wanted: readonly string[] | undefined, path: string): string[] {
  const available = parquetSchema(metadata).children.map((child) => child.element.name);
  if (wanted === undefined) return available;
  const missing = wanted.filter((name) => !available.includes(name));
  if (missing.length > 0) {
    throw new SourceError(
      `Parquet file has no column ${missing.map((m) => JSON.stringify(m)).join(", ")}; its columns are ${available.join(", ")}`,
      { file: path },
    );
  }
  return [...wanted];
}

/**
 * The row count from the footer, read synchronously: RowSource.size is a
 * plain property that callers read before iterating. A footer is small
 * (the last 8 bytes give its length), so this costs two short reads.
 * Returns undefined when the file cannot be read as Parquet.
 */
function readRowCountSync(path: string): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const size = fstatSync(fd).size;
    if (size < 12) return undefined;
    const tail = Buffer.alloc(8);
    readSync(fd, tail, 0, 8, size - 8);
    const metadataLength = tail.readUInt32LE(0);
    if (metadataLength + 8 > size - 4) return undefined;
    const footer = Buffer.alloc(metadataLength + 8);
    readSync(fd, footer, 0, footer.length, size - footer.length);
    return Number(parquetMetadata(footer).num_rows);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function checkColumns(columns: readonly string[] | undefined): readonly string[] | undefined {
  if (columns === undefined) return undefined;
  if (columns.length === 0) throw new DefinitionError("parquetSource: columns must name at least one column");
  if (new Set(columns).size !== columns.length) throw new DefinitionError("parquetSource: columns must not repeat a name");
  return [...columns];
}


