import { appendFile, readFile } from "node:fs/promises";
import { encodeKey, keyGroupOf, MAX_KEY_GROUPS } from "../core/keys.js";
import type { Row } from "../core/schema.js";
import { DefinitionError, StorageError } from "../errors.js";

/** One logged online read: what was served for a key of a table at a time. */
export interface LoggedRead {
  readonly table: string;
  /** The key fields. */
  readonly key: Row;
  /** The read time (ms): what an offline recomputation reads as of. */
  readonly at: number;
  /** The features served (before any TTL withholding). */
  readonly values: Row;
}

/**
 * Logs a sample of served reads for the online/offline skew check (Chronon's
 * logging): a key is in the sample when its key group falls under the
 * fraction, so every read of a sampled key is logged and the others never.
 * Entries are buffered and appended to a JSON-lines file (or kept in memory).
 */
export class ReadLog {
  private buffer: LoggedRead[] = [];
  private readonly kept: LoggedRead[] = [];
  private writing: Promise<void> = Promise.resolve();
  private readonly groups: number;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    /** Fraction of keys logged, 0 to 1. */
    readonly sample: number,
    /** JSON-lines file to append to; undefined keeps entries in memory (see `entries`). */
    readonly path?: string,
  ) {
    if (!(sample >= 0 && sample <= 1)) throw new DefinitionError(`read log sample must be between 0 and 1, got ${String(sample)}`, { field: "sample" });
    this.groups = Math.round(sample * MAX_KEY_GROUPS);
    // Entries reach the file within a second even when reads are few.
    this.timer = path === undefined ? undefined : setInterval(() => void this.flush().catch(() => {}), 1_000);
    this.timer?.unref();
  }

  /** Writes what is buffered and stops the timer. */
  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.flush();
  }

  /** Whether reads of this key are logged. */
  sampled(keyValues: readonly unknown[]): boolean {
    return keyGroupOf(encodeKey(keyValues)) < this.groups;
  }

  /** Logs the sampled ones among reads of `table` (key rows and served rows, pairwise). */
  record(table: string, keyFields: readonly string[], features: readonly string[], at: number, keys: readonly Row[], rows: readonly Row[]): void {
    if (this.groups === 0 || !Number.isFinite(at)) return;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as Row;
      const values = keyFields.map((f) => k[f]);
      if (!this.sampled(values)) continue;
      const served = rows[i] as Row;
      const entry: LoggedRead = { table, key: Object.fromEntries(keyFields.map((f, j) => [f, values[j]])), at, values: Object.fromEntries(features.map((f) => [f, served[f] ?? null])) };
      if (this.path === undefined) this.kept.push(entry);
      else this.buffer.push(entry);
    }
    if (this.buffer.length >= 1_000) void this.flush();
  }

  /** Appends what is buffered to the file. */
  flush(): Promise<void> {
    if (this.path === undefined || this.buffer.length === 0) return this.writing;
    const text = `${this.buffer.map((e) => JSON.stringify(e)).join("\n")}\n`;
    this.buffer = [];
    const path = this.path;
    this.writing = this.writing.then(() =>
      appendFile(path, text).catch((cause: unknown) => {
        throw new StorageError(`cannot append to the read log ${path}`, { cause });
      }),
    );
    return this.writing;
  }

  /** Entries kept in memory (no file). */
  entries(): readonly LoggedRead[] {
    return this.kept;
  }
}

/** Reads a JSON-lines read log; a bad line is an error naming it. */
export async function loadReadLog(path: string): Promise<LoggedRead[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new StorageError(`cannot read the read log ${path}`, { cause });
  }
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((line, i) => {
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        v = undefined;
      }
      const e = v as Partial<LoggedRead> | undefined;
      if (e === undefined || typeof e.table !== "string" || typeof e.at !== "number" || typeof e.key !== "object" || e.key === null || typeof e.values !== "object" || e.values === null) {
        throw new DefinitionError(`read log ${path} line ${i + 1} is not a logged read ({ table, key, at, values })`, { file: path, row: i + 1 });
      }
      return e as LoggedRead;
    });
}
