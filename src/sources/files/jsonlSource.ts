/**
 * JSON Lines files (one JSON object per line) as a RowSource. Values keep
 * their JSON types (`text: false`), so the RowParser does not re-parse
 * numbers from strings.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { DefinitionError, SourceError } from "../../errors.js";
import { batchSizeOption, type RowSource } from "../rowSource.js";

export interface JsonlSourceOptions {
  /** Rows per batch; default 65,536. */
  readonly batchSize?: number;
}


/**
 * Streams a JSON Lines file line by line. Blank (whitespace-only) lines are
 * skipped and do not count as rows. A line that is not valid JSON throws a
 * SourceError whose message names the physical line number and whose details
 * give the file and the 1-based row number (blank lines not counted), the
 * same numbering the RowParser uses for schema errors.
 *
 * Lines that are valid JSON but not objects (`42`, `[1]`) are passed on: the
 * RowParser rejects them as schema errors, which can be dead-lettered.
 */
export function jsonlSource(path: string, options: JsonlSourceOptions = {}): RowSource {
  const batchSize = batchSizeOption("jsonlSource", options.batchSize);
  return {
    kind: "jsonl",
    description: path,
    text: false,
    async *batches() {
      const input = createReadStream(path, { encoding: "utf8" });
      // crlfDelay: Infinity treats "\r\n" as one line end even across chunk boundaries.
      const lines = createInterface({ input, crlfDelay: Infinity });
      let lineNo = 0;
      let row = 0;
      let batch: unknown[] = [];
      try {
        for await (const raw of lines) {
          lineNo++;
          // A BOM would make the first line invalid JSON; editors on Windows add one.
          const line = lineNo === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
          if (line.trim() === "") continue;
          row++;
          let value: unknown;
          try {
            value = JSON.parse(line);
          } catch (err) {
            const reason = err instanceof Error ? err.message : String(err);
            throw new SourceError(`line ${lineNo} is not valid JSON: ${reason}`, { file: path, row }, { cause: err });
          }
          batch.push(value);
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
        }
      } catch (err) {
        throw toSourceError(err, path);
      } finally {
        // Also runs when the consumer stops early: release the file handle now.
        lines.close();
        input.destroy();
      }
      if (batch.length > 0) yield batch;
    },
  };
}

function toSourceError(err: unknown, file: string): SourceError {
  if (err instanceof SourceError) return err;
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  if (code === "ENOENT") return new SourceError("JSON Lines file does not exist", { file }, { cause: err });
  const reason = err instanceof Error ? err.message : String(err);
  return new SourceError(`cannot read JSON Lines file: ${reason}`, { file }, { cause: err });
}

