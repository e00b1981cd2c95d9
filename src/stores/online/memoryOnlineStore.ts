import { FeatureCell, NOT_FOUND, readCell, ttlsFor, validateWrite } from "./featureCell.js";
import type { FeatureRead, FeatureValue, OnlineStore, OnlineWrite, ReadOptions, WriteOptions } from "./onlineStore.js";

/** namespace → key → feature → cell. Maps, not objects: any string (even "__proto__") is a plain key. */
type Namespaces = Map<string, Map<string, Map<string, FeatureCell>>>;

/**
 * The online store in process memory, for tests, demos and single-process
 * serving. It behaves like the persistent stores to the bit: values are copied
 * through JSON on write (so -0 reads back as 0, and later changes to the
 * caller's object are not seen) and frozen, because reads hand out the stored
 * value itself.
 */
export class MemoryOnlineStore implements OnlineStore {
  readonly kind = "memory";
  readonly #namespaces: Namespaces = new Map();

  async write(namespace: string, rows: readonly OnlineWrite[], options: WriteOptions): Promise<void> {
    // Validation throws before the first change, so a write applies all rows or none.
    validateWrite(namespace, rows, options);
    // Comparing and setting run without an await between them: nothing else touches the maps meanwhile.
    const inEventTimeOrder = options.order === "event-time";
    let entries = this.#namespaces.get(namespace);
    for (const row of rows) {
      const eventTime = row.eventTime ?? options.now;
      const epoch = row.epoch ?? 0;
      for (const [feature, value] of Object.entries(row.features)) {
        if (entries === undefined) {
          entries = new Map();
          this.#namespaces.set(namespace, entries);
        }
        let cells = entries.get(row.key);
        if (cells === undefined) {
          cells = new Map();
          entries.set(row.key, cells);
        }
        if (inEventTimeOrder) {
          const stored = cells.get(feature);
          // An older write leaves the cell as it is, write time (and so TTL) included.
          if (stored !== undefined && !stored.yieldsTo(eventTime, epoch)) continue;
        }
        cells.set(feature, new FeatureCell(jsonCopy(value), options.now, eventTime, epoch));
      }
    }
  }

  async read(namespace: string, keys: readonly string[], features: readonly string[], options: ReadOptions): Promise<FeatureRead[][]> {
    const ttls = ttlsFor(features, options);
    const now = options.now;
    const entries = this.#namespaces.get(namespace);
    const out: FeatureRead[][] = [];
    for (const key of keys) {
      const cells = entries?.get(key);
      const row: FeatureRead[] = [];
      for (let i = 0; i < features.length; i++) {
        const feature = features[i];
        row.push(cells === undefined || feature === undefined ? NOT_FOUND : readCell(cells.get(feature), now, ttls[i]));
      }
      out.push(row);
    }
    return out;
  }

  async featuresOf(namespace: string, key: string): Promise<string[]> {
    const cells = this.#namespaces.get(namespace)?.get(key);
    return cells === undefined ? [] : [...cells.keys()].sort();
  }

  async deleteFeature(namespace: string, feature: string): Promise<void> {
    const entries = this.#namespaces.get(namespace);
    if (entries === undefined) return;
    for (const [key, cells] of entries) {
      // A key left without features is gone, as in Redis (an empty hash does not exist).
      if (cells.delete(feature) && cells.size === 0) entries.delete(key);
    }
  }

  async dropNamespace(namespace: string): Promise<void> {
    this.#namespaces.delete(namespace);
  }

  async close(): Promise<void> {
    this.#namespaces.clear();
  }
}

/** A frozen copy with JSON's semantics, which is what the persistent stores give back. */
function jsonCopy(value: FeatureValue): FeatureValue {
  if (typeof value !== "object" || value === null) return value === 0 ? 0 : value;
  // The value was checked by validateWrite, so the JSON text parses back to a FeatureValue.
  return JSON.parse(JSON.stringify(value), freeze) as FeatureValue;
}

function freeze(_key: string, value: unknown): unknown {
  return typeof value === "object" && value !== null ? Object.freeze(value) : value;
}
