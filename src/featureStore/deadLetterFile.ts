import { appendFile } from "node:fs/promises";
import type { DeadLetter, DeadLetterSink } from "../engine/deadLetters.js";

/**
 * Keeps every dead letter of a persistent store in <dir>/dead-letters.jsonl,
 * one JSON object per line, appended at each flush. The in-memory list is
 * capped; this file is not.
 */
export class DeadLetterFile {
  private pending: DeadLetter[] = [];

  constructor(
    readonly path: string,
    sink: DeadLetterSink,
  ) {
    sink.onDeadLetter((d) => this.pending.push(d));
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    const lines = items.map((d) => JSON.stringify(d, jsonSafe)).join("\n");
    try {
      await appendFile(this.path, `${lines}\n`);
    } catch (err) {
      this.pending = items.concat(this.pending);
      throw err;
    }
  }
}

function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
