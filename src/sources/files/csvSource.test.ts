import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { collect, failure, tempFolder } from "../../../test/helpers/sourceTesting.js";
import { t } from "../../core/schema.js";
import { DefinitionError, TimestampError } from "../../errors.js";
import type { SourceDef } from "../../plan/nodes.js";
import { RowParser } from "../rowParser.js";
import { csvSource } from "./csvSource.js";

const { dir, file } = tempFolder("freshet-csv-");




describe("csvSource", () => {
  it("yields header-keyed string rows in batches, skipping blank lines", async () => {
    const path = file("basic.csv", "id,ts,fare\na,2024-01-01T00:00:00Z,1.5\n\nb,2024-01-01T00:00:01Z,\nc,1704067202000,3\n");
    const source = csvSource(path, { batchSize: 2 });
    expect(source.kind).toBe("csv");
    expect(source.description).toBe(path);
    expect(source.text).toBe(true);
    const { rows, sizes } = await collect(source);
    expect(sizes).toEqual([2, 1]);
    expect(rows).toEqual([
      { id: "a", ts: "2024-01-01T00:00:00Z", fare: "1.5" },
      { id: "b", ts: "2024-01-01T00:00:01Z", fare: "" },
      { id: "c", ts: "1704067202000", fare: "3" },
    ]);
    // Each iteration re-reads the file from the start.
    expect((await collect(source)).rows).toEqual(rows);
  });

  it("handles a custom delimiter, quotes, CRLF and a BOM", async () => {
    const path = file("semi.csv", '\uFEFFname;note\r\n"Smith; J";"said ""hi"""\r\nLee;\r\n');
    const { rows } = await collect(csvSource(path, { delimiter: ";" }));
    expect(rows).toEqual([
      { name: "Smith; J", note: 'said "hi"' },
      { name: "Lee", note: "" },
    ]);
  });

  it("yields nothing for a header-only or empty file", async () => {
    expect((await collect(csvSource(file("header.csv", "a,b\n")))).rows).toEqual([]);
    expect((await collect(csvSource(file("empty.csv", "")))).rows).toEqual([]);
  });

  it("streams a file larger than one batch and one read chunk", async () => {
    const lines = ["k,v"];
    for (let i = 0; i < 50_000; i++) lines.push(`k${i % 7},${i}`);
    const { rows, sizes } = await collect(csvSource(file("big.csv", lines.join("\n")), { batchSize: 16_384 }));
    expect(sizes).toEqual([16_384, 16_384, 16_384, 848]);
    expect(rows[0]).toEqual({ k: "k0", v: "0" });
    expect(rows[49_999]).toEqual({ k: "k5", v: "49999" });
    expect(rows.every((r, i) => (r as { v: string }).v === String(i))).toBe(true);
  });

  it("stops cleanly when the consumer breaks early", async () => {
    const lines = ["n"];
    for (let i = 0; i < 10_000; i++) lines.push(String(i));
    let first: readonly unknown[] = [];
    for await (const batch of csvSource(file("early.csv", lines.join("\n")), { batchSize: 10 }).batches()) {
      first = batch;
      break;
    }
    expect(first).toEqual(Array.from({ length: 10 }, (_, i) => ({ n: String(i) })));
  });

  it("rejects a row with the wrong number of columns, naming file and data row", async () => {
    // Data row 3 is on line 5: the header and a blank line are not data rows.
    const path = file("ragged.csv", "a,b,c\n1,2,3\n\n4,5,6\n7,8\n9,10,11\n");
    const err = await failure(csvSource(path));
    expect(err.code).toBe("SOURCE_ERROR");
    expect(err.details).toEqual({ file: path, row: 3 });
    expect(err.message).toContain("wrong number of columns: it has 2 fields but the header has 3 on line 5");
    expect(err.message).toContain(`file ${path}`);
    expect(err.message).toContain("row 3");
  });

  it("counts rows across batches when a later row is too long", async () => {
    const path = file("ragged2.csv", "a,b\n1,2\n3,4\n5,6\n7,8,9\n");
    const err = await failure(csvSource(path, { batchSize: 2 }));
    expect(err.details).toEqual({ file: path, row: 4 });
    expect(err.message).toContain("it has 3 fields but the header has 2");
  });

  it("reports malformed quoting with file and row", async () => {
    const path = file("quote.csv", 'a,b\n1,2\n"x"y,3\n');
    const err = await failure(csvSource(path));
    expect(err.details).toEqual({ file: path, row: 2 });
    expect(err.message).toMatch(/^malformed CSV on line 3: /);
  });

  it("reports a missing file clearly", async () => {
    const path = join(dir, "nope.csv");
    const err = await failure(csvSource(path));
    expect(err.message).toBe(`CSV file does not exist (file ${path})`);
    expect(err.details).toEqual({ file: path });
  });

  it("reports a directory as unreadable", async () => {
    const err = await failure(csvSource(dir));
    expect(err.message).toMatch(/^cannot read CSV file: .*EISDIR/);
  });

  it("validates its options", () => {
    expect(() => csvSource("x.csv", { batchSize: 0 })).toThrow(DefinitionError);
    expect(() => csvSource("x.csv", { batchSize: 1.5 })).toThrow("batchSize must be a positive integer, got 1.5");
    expect(() => csvSource("x.csv", { delimiter: "" })).toThrow("delimiter must not be empty");
  });
});

describe("RowParser over CSV text rows", () => {
  const def: SourceDef = {
    name: "trips",
    schema: { id: t.string(), ts: t.timestamp(), fare: t.float(), n: t.int(), paid: t.bool(), note: t.string().optional() },
    timestamp: "ts",
    keys: [],
    lateness: 0,
  };

  it("turns CSV strings into typed rows", async () => {
    const path = file(
      "trips.csv",
      "id,ts,fare,n,paid,note,extra\n" +
        "t1,2024-03-01T12:00:00Z,12.5,3,true,window seat,x\n" +
        "t2,2024-03-01 12:00:01.250+01:00,0,0,0,,y\n" +
        "t3,1709294400000,-1e2,7,FALSE,ok,z\n",
    );
    const source = csvSource(path);
    const parser = new RowParser(def, { text: source.text });
    const typed: unknown[] = [];
    let row = 0;
    for await (const batch of source.batches()) {
      for (const raw of batch) typed.push(parser.parse(raw, { file: path, row: ++row }));
    }
    expect(typed).toEqual([
      { id: "t1", ts: Date.UTC(2024, 2, 1, 12, 0, 0), fare: 12.5, n: 3, paid: true, note: "window seat" },
      { id: "t2", ts: Date.UTC(2024, 2, 1, 11, 0, 1, 250), fare: 0, n: 0, paid: false, note: null },
      { id: "t3", ts: 1709294400000, fare: -100, n: 7, paid: false, note: "ok" },
    ]);
  });

  it("rejects an unparseable timestamp with a TimestampError naming file, row and field", async () => {
    const path = file("badts.csv", "id,ts,fare,n,paid,note\nt1,2024-03-01T12:00:00Z,1,1,true,\nt2,yesterday,1,1,true,\n");
    const source = csvSource(path);
    const parser = new RowParser(def, { text: source.text });
    let caught: unknown;
    let row = 0;
    try {
      for await (const batch of source.batches()) {
        for (const raw of batch) parser.parse(raw, { file: path, row: ++row });
      }
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TimestampError);
    const err = caught as TimestampError;
    expect(err.code).toBe("INVALID_TIMESTAMP");
    expect(err.details).toEqual({ dataset: "trips", file: path, row: 2, field: "ts" });
    expect(err.message).toContain('"yesterday"');
    expect(err.message).toContain(`(dataset "trips", file ${path}, row 2, field "ts")`);
  });
});
