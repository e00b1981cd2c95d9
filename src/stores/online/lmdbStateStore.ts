import { open, type RootDatabase } from "lmdb";
import { keyGroupOf, MAX_KEY_GROUPS } from "../../core/keys.js";
import { StorageError } from "../../errors.js";
import type { StateStore } from "./stateStore.js";

const META_KEY = ["__meta"];

/**
 * Online state in LMDB, one entry per (table, key group, key): a key group's
 * entries are contiguous, so a checkpoint can be split by key group. Commits are one
 * synchronous LMDB transaction, so state and metadata (watermarks, counters)
 * change together or not at all.
 */
export class LmdbStateStore implements StateStore {
  private readonly db: RootDatabase;
  readonly description: string;
  private constructor(path: string) {
    this.description = `LMDB at ${path}`;
    try {
      this.db = open({ path, compression: false });
    } catch (cause) {
      throw new StorageError(`cannot open the LMDB state store at ${path}`, { cause });
    }
  }

  static open(path: string): LmdbStateStore {
    return new LmdbStateStore(path);
  }

  get(table: string, key: string): unknown {
    return this.db.get(["k", table, keyGroupOf(key), key]);
  }

  commit(entries: ReadonlyArray<{ table: string; group: number; key: string; value: unknown }>, meta: unknown): void {
    this.db.transactionSync(() => {
      for (const e of entries) this.db.putSync(["k", e.table, e.group, e.key], e.value);
      this.db.putSync(META_KEY, meta);
    });
  }

  meta(): unknown {
    return this.db.get(META_KEY);
  }

  *keys(table: string): Iterable<string> {
    // Entries are ["k", table, group, key] with group < MAX_KEY_GROUPS: this range is exactly the table's.
    for (const k of this.db.getKeys({ start: ["k", table], end: ["k", table, MAX_KEY_GROUPS] })) {
      const key = (k as unknown[])[3];
      if (typeof key === "string") yield key;
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
