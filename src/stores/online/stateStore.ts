/**
 * Where the online state of keyed operators lives between runs. Values are
 * opaque plain data produced by the engine's codec; stores never import the engine.
 */
export interface StateStore {
  /** The persisted value of one key of one table, if any. */
  get(table: string, key: string): unknown;
  /**
   * Writes many keys' values and the store-wide metadata in one atomic step:
   * after a crash either all of it is visible or none. A store that writes
   * over the network returns a promise; the entries are taken at the call.
   */
  commit(entries: ReadonlyArray<{ table: string; group: number; key: string; value: unknown }>, meta: unknown): void | Promise<void>;
  /** Metadata written by the last commit. */
  meta(): unknown;
  /** Every key of a table, for bulk reads. */
  keys(table: string): Iterable<string>;
  /** Where the state is kept, for logs and `FeatureStore.stats()`: memory, an LMDB path, checkpoints (and a Redis server's durability). */
  readonly description: string;
  /** True for a store that keeps no values (MemoryStateStore): commits are given no entries. */
  readonly volatile?: boolean;
  close(): Promise<void>;
}

/**
 * No persistence: the state lives only in the operators' memory, which never
 * drops a key, so nothing is ever read back. Commits keep the metadata only;
 * `volatile` tells persist() not to encode the changed keys for it.
 */
export class MemoryStateStore implements StateStore {
  readonly volatile = true;
  readonly description = "memory (not persisted)";
  private lastMeta: unknown = undefined;
  get(_table: string, _key: string): unknown {
    return undefined;
  }
  commit(_entries: ReadonlyArray<{ table: string; group: number; key: string; value: unknown }>, meta: unknown): void {
    this.lastMeta = meta;
  }
  meta(): unknown {
    return this.lastMeta;
  }
  keys(_table: string): Iterable<string> {
    return [];
  }
  async close(): Promise<void> {}
}
