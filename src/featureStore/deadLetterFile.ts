import { appendFile, stat, truncate } from "node:fs/promises";
import type { DeadLetter, DeadLetterSink } from "../engine/deadLetters.js";

/**
 * Keeps every dead letter of a persistent store in <dir>/dead-letters.jsonl,
 * one JSON object per line, appended at each flush. The in-memory list is
 * capped; this file is not.
 */
export class DeadLetterFile {
  private pending: DeadLetter[] = [];
  /** Bytes in the file after the last flush (known once `open` ran). */
  bytes = 0;

  constructor(
    readonly path: string,
    sink: DeadLetterSink,
  ) {
    sink.onDeadLetter((d) => this.pending.push(d));
  }

  /**
   * Measures the file, cutting it to `keep` bytes when the last commit saved
   * that length: lines written after it come from a run that crashed before
   * its next commit, and are written again when its rows are replayed.
   */
  async open(keep: number | undefined): Promise<void> {
    const size = await stat(this.path).then(
      (s) => s.size,
      () => 0,
    );
    if (keep !== undefined && keep < size) await truncate(this.path, keep);
    this.bytes = keep !== undefined && keep < size ? keep : size;
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    const text = `${items.map((d) => JSON.stringify(d, jsonSafe)).join("\n")}\n`;
    try {
      await appendFile(this.path, text);
      this.bytes += Buffer.byteLength(text);
    } catch (err) {
      this.pending = items.concat(this.pending);
      throw err;
    }
  }
}

function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
