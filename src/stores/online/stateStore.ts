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
  close(): Promise<void>;
}

/** No persistence: the state lives only in the operators' memory. */
export class MemoryStateStore implements StateStore {
  private lastMeta: unknown = undefined;
  private readonly data = new Map<string, Map<string, unknown>>();
  get(table: string, key: string): unknown {
    return this.data.get(table)?.get(key);
  }
  commit(entries: ReadonlyArray<{ table: string; group: number; key: string; value: unknown }>, meta: unknown): void {
    for (const e of entries) {
      let t = this.data.get(e.table);
      if (t === undefined) this.data.set(e.table, (t = new Map()));
      t.set(e.key, e.value);
    }
    this.lastMeta = meta;
  }
  meta(): unknown {
    return this.lastMeta;
  }
  keys(table: string): Iterable<string> {
    return this.data.get(table)?.keys() ?? [];
  }
  async close(): Promise<void> {}
}
