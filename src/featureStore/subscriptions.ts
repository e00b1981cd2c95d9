import { encodeKey } from "../core/keys.js";
import type { TableRuntime } from "../engine/runtime.js";
import { DefinitionError } from "../errors.js";
import type { Row } from "../plan/nodes.js";

/** Receives one combined feature vector per updated key: the key fields, then every table's features. */
export type VectorCallback = (vectors: Row[]) => void | Promise<void>;

interface Subscription {
  readonly tables: readonly string[];
  readonly keyFields: readonly string[];
  readonly callback: VectorCallback;
  /** Keys updated since the last delivery: encoded key → key fields. */
  readonly pending: Map<string, Row>;
}

/**
 * Featurizer's combined outputs: subscribers name tables keyed by the same
 * fields; after each update (a push) they get, for every key that changed in
 * any of those tables, one vector with all the tables' features as of the
 * store clock, in the order the keys were first touched.
 */
export class Subscriptions {
  private readonly subs = new Set<Subscription>();

  get active(): boolean {
    return this.subs.size > 0;
  }

  add(tables: readonly TableRuntime[], callback: VectorCallback): () => void {
    if (tables.length === 0) throw new DefinitionError("subscribe: name at least one table", { field: "tables" });
    if (typeof callback !== "function") throw new DefinitionError("subscribe: the callback must be a function", { field: "callback" });
    const keyFields = (tables[0] as TableRuntime).def.root.keys;
    for (const t of tables) {
      const k = t.def.root.keys;
      if (k.length !== keyFields.length || k.some((f, i) => f !== keyFields[i])) {
        throw new DefinitionError(
          `subscribe: tables must share their key fields to combine per key; "${(tables[0] as TableRuntime).def.name}" is keyed by [${keyFields.join(", ")}], "${t.def.name}" by [${k.join(", ")}]`,
          { field: "tables" },
        );
      }
    }
    const sub: Subscription = { tables: tables.map((t) => t.def.name), keyFields, callback, pending: new Map() };
    this.subs.add(sub);
    return () => void this.subs.delete(sub);
  }

  /** The runtime's listener: notes the keys a committed batch touched. */
  readonly collect = (table: TableRuntime, rows: readonly Row[]): void => {
    for (const sub of this.subs) {
      if (!sub.tables.includes(table.def.name)) continue;
      for (const r of rows) {
        const values = sub.keyFields.map((f) => r[f]);
        const id = encodeKey(values);
        if (!sub.pending.has(id)) sub.pending.set(id, Object.fromEntries(sub.keyFields.map((f, i) => [f, values[i]])));
      }
    }
  };

  /** Reads and hands over the vectors of the keys touched since the last delivery. */
  async deliver(read: (table: string, keys: readonly Row[]) => Promise<Row[]>): Promise<void> {
    for (const sub of this.subs) {
      if (sub.pending.size === 0) continue;
      const keys = [...sub.pending.values()];
      sub.pending.clear();
      const vectors = keys.map((k) => ({ ...k }));
      for (const name of sub.tables) {
        const rows = await read(name, keys);
        rows.forEach((r, i) => Object.assign(vectors[i] as Row, r));
      }
      await sub.callback(vectors);
    }
  }
}
