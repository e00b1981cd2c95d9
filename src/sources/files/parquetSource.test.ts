import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { asyncBufferFromFile, parquetMetadataAsync } from "hyparquet";
import { parquetWriteFile } from "hyparquet-writer";
import { describe, expect, it } from "vitest";
import { collect, failure, tempFolder } from "../../../test/helpers/sourceTesting.js";
import { t } from "../../core/schema.js";
import { DefinitionError } from "../../errors.js";
import type { SourceDef } from "../../plan/nodes.js";
import { RowParser } from "../rowParser.js";
import { parquetSource } from "./parquetSource.js";

const FLIGHTS = join(process.cwd(), "node_modules/vega-datasets/data/flights-3m.parquet");

const { dir } = tempFolder("freshet-parquet-");


async function codecsOf(path: string): Promise<string[]> {
  const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path));
  return metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec ?? "none"));
}


// Ten rows in row groups of 4, 4 and 2.
const IDS = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
const T0 = Date.UTC(2024, 0, 1);
const expected = IDS.map((id, i) => ({
  id,
  ts: new Date(T0 + i * 1000),
  count: BigInt(i * 10),
  score: i + 0.5,
  note: i % 3 === 0 ? null : `n${i}`,
}));

function writeSample(name: string, codec?: "GZIP" | "BROTLI"): string {
  const filename = join(dir, name);
  parquetWriteFile({
    filename,
    columnData: [
      { name: "id", data: IDS, type: "STRING", nullable: false },
      { name: "ts", data: expected.map((r) => r.ts), type: "TIMESTAMP", nullable: false },
      { name: "count", data: expected.map((r) => r.count), type: "INT64", nullable: false },
      { name: "score", data: expected.map((r) => r.score), type: "DOUBLE", nullable: false },
      { name: "note", data: expected.map((r) => r.note), type: "STRING", nullable: true },
    ],
    rowGroupSize: 4,
    ...(codec === "GZIP" ? { codec, compressors: { GZIP: (input: Uint8Array) => gzipSync(input) } } : {}),
    ...(codec === "BROTLI" ? { codec, compressors: { BROTLI: (input: Uint8Array) => brotliCompressSync(input) } } : {}),
  });
  return filename;
}

describe("parquetSource", () => {
  it("yields row objects in file column order, per row group, with size from the footer", async () => {
    const path = writeSample("sample.parquet");
    const source = parquetSource(path, { batchSize: 3 });
    expect(source.kind).toBe("parquet");
    expect(source.description).toBe(path);
    expect(source.text).toBe(false);
    expect(source.size).toBe(10);
    const { rows, sizes } = await collect(source);
    // Batches never span row groups: 4 = 3 + 1, 4 = 3 + 1, 2.
    expect(sizes).toEqual([3, 1, 3, 1, 2]);
    expect(rows).toEqual(expected);
    expect(Object.keys(rows[0] as object)).toEqual(["id", "ts", "count", "score", "note"]);
    // Each iteration re-reads the file from the start.
    expect((await collect(source)).rows).toEqual(expected);
  });

  it("reads only the requested columns, in the requested order", async () => {
    const path = writeSample("columns.parquet");
    const { rows, sizes } = await collect(parquetSource(path, { columns: ["score", "id"] }));
    expect(sizes).toEqual([4, 4, 2]);
    expect(rows).toEqual(expected.map((r) => ({ score: r.score, id: r.id })));
    expect(Object.keys(rows[0] as object)).toEqual(["score", "id"]);
  });

  it("decodes codecs from hyparquet-compressors (GZIP, BROTLI)", async () => {
    for (const codec of ["GZIP", "BROTLI"] as const) {
      const path = writeSample(`${codec}.parquet`, codec);
      expect(new Set(await codecsOf(path))).toEqual(new Set([codec]));
      const { rows } = await collect(parquetSource(path));
      expect(rows).toEqual(expected);
    }
  });

  it("joins a column that hyparquet delivers in many page-sized chunks", async () => {
    // Required DOUBLE and INT32 columns decode to one typed array per page;
    // tiny pages make many of them within each row group.
    const filename = join(dir, "pages.parquet");
    const n = 1000;
    parquetWriteFile({
      filename,
      columnData: [
        { name: "x", data: Array.from({ length: n }, (_, i) => i * 1.5), type: "DOUBLE", nullable: false },
        { name: "n", data: Array.from({ length: n }, (_, i) => i), type: "INT32", nullable: false },
      ],
      pageSize: 100,
      rowGroupSize: 600,
    });
    const { rows, sizes } = await collect(parquetSource(filename, { batchSize: 250 }));
    expect(sizes).toEqual([250, 250, 100, 250, 150]);
    expect(rows).toEqual(Array.from({ length: n }, (_, i) => ({ x: i * 1.5, n: i })));
  });

  it("gives rows the RowParser accepts: Date timestamps and bigint numbers", async () => {
    const def: SourceDef = {
      name: "sample",
      schema: { id: t.string(), ts: t.timestamp(), count: t.int(), score: t.float(), note: t.string().optional() },
      timestamp: "ts",
      keys: [],
      lateness: 0,
    };
    const path = writeSample("parse.parquet");
    const source = parquetSource(path);
    const parser = new RowParser(def, { text: source.text });
    const { rows } = await collect(source);
    const typed = rows.map((raw, i) => parser.parse(raw, { file: path, row: i + 1 }));
    expect(typed[1]).toEqual({ id: "b", ts: T0 + 1000, count: 10, score: 1.5, note: "n1" });
    expect(typed[9]).toEqual({ id: "j", ts: T0 + 9000, count: 90, score: 9.5, note: null });
  });

  it("reports an unknown column, listing the file's columns", async () => {
    const path = writeSample("unknown.parquet");
    const err = await failure(parquetSource(path, { columns: ["id", "nope"] }));
    expect(err.message).toBe(`Parquet file has no column "nope"; its columns are id, ts, count, score, note (file ${path})`);
    expect(err.details).toEqual({ file: path });
  });

  it("reports a missing file when iterated, leaving size unknown", async () => {
    const path = join(dir, "missing.parquet");
    const source = parquetSource(path);
    expect(source.size).toBeUndefined();
    expect("size" in source).toBe(false);
    const err = await failure(source);
    expect(err.message).toBe(`Parquet file does not exist (file ${path})`);
    expect(err.details).toEqual({ file: path });
  });

  it("reports a file that is not Parquet", async () => {
    const path = join(dir, "text.parquet");
    writeFileSync(path, "id,ts\n1,2\n");
    const source = parquetSource(path);
    expect(source.size).toBeUndefined();
    const err = await failure(source);
    expect(err.message).toMatch(/^not a readable Parquet file: .*\(file .*text\.parquet\)$/);
  });

  it("validates its options", () => {
    expect(() => parquetSource("x.parquet", { batchSize: 0 })).toThrow(DefinitionError);
    expect(() => parquetSource("x.parquet", { columns: [] })).toThrow("columns must name at least one column");
    expect(() => parquetSource("x.parquet", { columns: ["a", "a"] })).toThrow("columns must not repeat a name");
  });

  it("reads the real ZSTD flights file: size and first rows", async () => {
    const source = parquetSource(FLIGHTS, { batchSize: 1000 });
    expect(source.size).toBe(3_000_000);
    expect(new Set(await codecsOf(FLIGHTS))).toEqual(new Set(["ZSTD"]));
    let first: readonly unknown[] = [];
    for await (const batch of source.batches()) {
      first = batch;
      break; // stopping early must release the file without error
    }
    expect(first).toHaveLength(1000);
    expect(first[0]).toEqual({
      date: new Date("2001-01-01T00:01:00.000Z"),
      delay: 33n,
      distance: 2176n,
      origin: "LAS",
      destination: "PHL",
    });
    expect(Object.keys(first[0] as object)).toEqual(["date", "delay", "distance", "origin", "destination"]);
    for (const row of first) {
      const r = row as Record<string, unknown>;
      expect(r.date).toBeInstanceOf(Date);
      expect(typeof r.delay).toBe("bigint");
      expect(typeof r.origin).toBe("string");
    }
  });
});
