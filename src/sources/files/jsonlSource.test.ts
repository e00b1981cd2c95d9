import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { collect, failure, tempFolder } from "../../../test/helpers/sourceTesting.js";
import { DefinitionError, SourceError } from "../../errors.js";
import { jsonlSource } from "./jsonlSource.js";

const { dir, file } = tempFolder("freshet-jsonl-");




describe("jsonlSource", () => {
  it("yields one parsed object per line, keeping JSON types, skipping blank lines", async () => {
    const path = file(
      "events.jsonl",
      '{"key":"a","ts":1000,"value":1.5,"ok":true}\n\n   \n{"key":"b","ts":"2024-01-01T00:00:00Z","value":null}\r\n{"key":"c","nested":{"x":[1,2]}}',
    );
    const source = jsonlSource(path, { batchSize: 2 });
    expect(source.kind).toBe("jsonl");
    expect(source.description).toBe(path);
    expect(source.text).toBe(false);
    const { rows, sizes } = await collect(source);
    expect(sizes).toEqual([2, 1]);
    expect(rows).toEqual([
      { key: "a", ts: 1000, value: 1.5, ok: true },
      { key: "b", ts: "2024-01-01T00:00:00Z", value: null },
      { key: "c", nested: { x: [1, 2] } },
    ]);
    // Each iteration re-reads the file from the start.
    expect((await collect(source)).rows).toEqual(rows);
  });

  it("drops a leading BOM and passes non-object JSON on for the parser to reject", async () => {
    const path = file("bom.jsonl", '\uFEFF{"a":1}\n42\n');
    expect((await collect(jsonlSource(path))).rows).toEqual([{ a: 1 }, 42]);
  });

  it("yields nothing for an empty file", async () => {
    expect((await collect(jsonlSource(file("empty.jsonl", "\n\n")))).rows).toEqual([]);
  });

  it("streams many lines in full batches", async () => {
    const lines: string[] = [];
    for (let i = 0; i < 30_000; i++) lines.push(JSON.stringify({ i, key: `k${i % 3}` }));
    const { rows, sizes } = await collect(jsonlSource(file("big.jsonl", `${lines.join("\n")}\n`), { batchSize: 10_000 }));
    expect(sizes).toEqual([10_000, 10_000, 10_000]);
    expect(rows[29_999]).toEqual({ i: 29_999, key: "k2" });
    expect(rows.every((r, i) => (r as { i: number }).i === i)).toBe(true);
  });

  it("stops cleanly when the consumer breaks early", async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => JSON.stringify({ i }));
    let first: readonly unknown[] = [];
    for await (const batch of jsonlSource(file("early.jsonl", lines.join("\n")), { batchSize: 10 }).batches()) {
      first = batch;
      break;
    }
    expect(first).toEqual(Array.from({ length: 10 }, (_, i) => ({ i })));
  });

  it("rejects a bad JSON line naming the file, the line and the row", async () => {
    // Line 4 is the third row: the blank line 2 is not a row.
    const path = file("bad.jsonl", '{"a":1}\n\n{"a":2}\n{"a":3,}\n{"a":4}\n');
    const err = await failure(jsonlSource(path));
    expect(err.code).toBe("SOURCE_ERROR");
    expect(err.details).toEqual({ file: path, row: 3 });
    expect(err.message).toMatch(/^line 4 is not valid JSON: /);
    expect(err.message).toContain(`(file ${path}, row 3)`);
  });

  it("reports the bad line after earlier full batches were yielded", async () => {
    const path = file("bad2.jsonl", '{"a":1}\n{"a":2}\n{"a":3}\nnot json\n');
    const seen: unknown[] = [];
    let caught: unknown;
    try {
      for await (const batch of jsonlSource(path, { batchSize: 2 }).batches()) seen.push(...batch);
    } catch (err) {
      caught = err;
    }
    expect(seen).toEqual([{ a: 1 }, { a: 2 }]);
    expect(caught).toBeInstanceOf(SourceError);
    expect((caught as SourceError).details).toEqual({ file: path, row: 4 });
    expect((caught as SourceError).message).toMatch(/^line 4 is not valid JSON/);
  });

  it("reports a missing file clearly", async () => {
    const path = join(dir, "missing.jsonl");
    const err = await failure(jsonlSource(path));
    expect(err.message).toBe(`JSON Lines file does not exist (file ${path})`);
    expect(err.details).toEqual({ file: path });
  });

  it("reports a directory as unreadable", async () => {
    const err = await failure(jsonlSource(dir));
    expect(err.message).toMatch(/^cannot read JSON Lines file: .*EISDIR/);
  });

  it("validates batchSize", () => {
    expect(() => jsonlSource("x.jsonl", { batchSize: -1 })).toThrow(DefinitionError);
    expect(() => jsonlSource("x.jsonl", { batchSize: Number.NaN })).toThrow("batchSize must be a positive integer");
  });
});
