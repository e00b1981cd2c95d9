/**
 * CSV files as a RowSource. Rows come out as objects keyed by the header row,
 * every value a string (`text: true`): the RowParser decides what "12" or ""
 * means for each field, so this file never guesses types.
 */
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream";
import { CsvError, parse } from "csv-parse";
import { DefinitionError, SourceError } from "../../errors.js";
import { batchSizeOption, type RowSource } from "../rowSource.js";

export interface CsvSourceOptions {
  /** Field delimiter; default ",". */
  readonly delimiter?: string;
  /** Rows per batch; default 65,536. */
  readonly batchSize?: number;
}


/**
 * Streams a CSV file with a header row. Blank lines are skipped, a UTF-8 BOM
 * is dropped, and CRLF or LF line ends both work. A data row whose field count
 * differs from the header's throws a SourceError naming the file and the
 * 1-based data row (the header is not counted).
 *
 * Nothing is read until `batches()` is iterated; each iteration re-reads the file.
 */
export function csvSource(path: string, options: CsvSourceOptions = {}): RowSource {
  const batchSize = batchSizeOption("csvSource", options.batchSize);
  const delimiter = options.delimiter ?? ",";
  if (delimiter.length === 0) throw new DefinitionError("csvSource: delimiter must not be empty");
  return {
    kind: "csv",
    description: path,
    text: true,
    async *batches() {
      const input = createReadStream(path);
      const parser = parse({ columns: true, delimiter, bom: true, skip_empty_lines: true });
      // pipeline (unlike .pipe) forwards a read error such as ENOENT into the
      // parser, so it reaches the loop below instead of being an unhandled event.
      // The callback only silences the duplicate report; the loop rethrows.
      pipeline(input, parser, () => {});
      let row = 0;
      let batch: unknown[] = [];
      try {
        for await (const record of parser as AsyncIterable<unknown>) {
          row++;
          batch.push(record);
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
        }
      } catch (err) {
        throw toSourceError(err, path, row);
      } finally {
        // Also runs when the consumer stops early: release the file handle now.
        input.destroy();
        parser.destroy();
      }
      if (batch.length > 0) yield batch;
    },
  };
}

/** `rowsBefore` counts the data rows already delivered, for errors without csv-parse context. */
function toSourceError(err: unknown, file: string, rowsBefore: number): SourceError {
  if (err instanceof SourceError) return err;
  if (err instanceof CsvError) {
    if (err.header === true) {
      return new SourceError(`CSV header row is invalid: ${err.message}`, { file }, { cause: err });
    }
    // csv-parse counts the records it emitted before the failing one, header excluded.
    const row = (typeof err.records === "number" ? err.records : rowsBefore) + 1;
    const line = typeof err.lines === "number" ? ` on line ${err.lines}` : "";
    if (err.code === "CSV_RECORD_INCONSISTENT_COLUMNS") {
      const got = Array.isArray(err.record) ? err.record.length : undefined;
      const want = Array.isArray(err.columns) ? err.columns.length : undefined;
      const counts = got !== undefined && want !== undefined ? `: it has ${got} fields but the header has ${want}` : "";
      return new SourceError(`CSV row has the wrong number of columns${counts}${line}`, { file, row }, { cause: err });
    }
    return new SourceError(`malformed CSV${line}: ${err.message}`, { file, row }, { cause: err });
  }
  const code = errnoCode(err);
  if (code === "ENOENT") return new SourceError("CSV file does not exist", { file }, { cause: err });
  const reason = err instanceof Error ? err.message : String(err);
  return new SourceError(`cannot read CSV file: ${reason}`, { file }, { cause: err });
}

function errnoCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

