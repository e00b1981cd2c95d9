import { open, type RootDatabase } from "lmdb";
import { FreshetError, RequestError, StorageError } from "../../errors.js";
import { CELL_SHAPE, cellFromTuple, corruptEntryError, encodeCell, isFeatureObject, NOT_FOUND, parseStoredJson, ttlsFor, validateWrite } from "./featureCell.js";
import type { FeatureRead, FeatureValue, OnlineStore, OnlineWrite, ReadOptions, WriteOptions } from "./onlineStore.js";
import { messageOf } from "../../core/errorMessage.js";

/** lmdb-js's default (and, without a custom page size, largest) key size in bytes. */
const MAX_KEY_BYTES = 1978;

/** Separates the namespace from the key: 0xFF never occurs in UTF-8, so the split is unambiguous. */
const SEPARATOR = 0xff;

type StoredEntry = { readonly [feature: string]: FeatureValue };

/**
 * The online store in LMDB, one entry per (namespace, key): the JSON object
 * `{ feature: [writtenAt, eventTime, value(, epoch)], ... }` (see featureCell.ts), so a
 * read costs one lookup per key whatever the number of features.
 *
 * Keys are raw bytes `utf8(namespace) 0xFF utf8(key)` rather than lmdb's
 * ordered-binary arrays: those escape control characters only in strings
 * shorter than 64 characters, so a range bound like [ns + "\0"] can miss a long
 * namespace's entries. With 0xFF as separator a namespace is exactly the range
 * [ns 0xFF, ns 0xFF 0xFF).
 *
 * Writes are one synchronous transaction (all rows or none); reads are
 * synchronous lookups in the current snapshot behind an async signature.
 */
export class LmdbOnlineStore implements OnlineStore {
  readonly kind = "lmdb";
  readonly #db: RootDatabase<string, Uint8Array>;
  readonly #path: string;
  /** Key bytes are built here and copied by lmdb on each call, so lookups allocate no buffer. */
  readonly #keyBytes = Buffer.allocUnsafe(MAX_KEY_BYTES + 4);
  /**
   * Parsed entries of recently read keys ("namespace\u0000key"), oldest first:
   * the embedded online store is served from memory and persisted to LMDB.
   * Writes and deletes through this store invalidate what they touch; another
   * process writing the same LMDB directory is not seen (one writer, the server).
   */
  readonly #cache = new Map<string, StoredEntry>();
  readonly #cacheSize: number;

  private constructor(path: string, cacheSize: number) {
    this.#path = path;
    this.#cacheSize = cacheSize;
    try {
      this.#db = open<string, Uint8Array>({ path, compression: false, keyEncoding: "binary", encoding: "string" });
    } catch (cause) {
      throw new StorageError(`Cannot open the LMDB online store at ${path}: ${messageOf(cause)}. Check that the directory is writable.`, { cause });
    }
  }

  /**
   * Opens (or creates) the store at `path`; use a path of its own, not the
   * state store's. `cacheSize` entries (default 100,000 keys) are kept parsed in memory.
   */
  static open(path: string, options: { readonly cacheSize?: number } = {}): LmdbOnlineStore {
    const size = options.cacheSize ?? 100_000;
    if (!Number.isInteger(size) || size < 0) throw new RequestError(`cacheSize must be a whole number >= 0, got ${String(size)}`, { field: "cacheSize" });
    return new LmdbOnlineStore(path, size);
  }

  async write(namespace: string, rows: readonly OnlineWrite[], options: WriteOptions): Promise<void> {
    validateWrite(namespace, rows, options);
    const prefixLength = this.#writePrefix(namespace);
    const inEventTimeOrder = options.order === "event-time";
    const updates: { key: string; keyBytes: Buffer; cells: Map<string, string>; eventTime: number; epoch: number }[] = [];
    for (const row of rows) {
      const eventTime = row.eventTime ?? options.now;
      const epoch = row.epoch ?? 0;
      const cells = new Map<string, string>();
      for (const [feature, value] of Object.entries(row.features)) cells.set(feature, encodeCell(value, options.now, eventTime, epoch));
      if (cells.size === 0) continue;
      const length = this.#keyLength(prefixLength, row.key);
      if (length === undefined) {
        const shown = row.key.length > 80 ? `${row.key.slice(0, 80)}…` : row.key;
        throw new RequestError(
          `Key "${shown}" of namespace "${namespace}" is too long for LMDB: namespace and key together must be at most ${MAX_KEY_BYTES - 1} bytes of UTF-8; nothing of this write was stored.`,
          { field: "key" },
        );
      }
      updates.push({ key: row.key, keyBytes: Buffer.from(this.#keyBytes.subarray(0, length)), cells, eventTime, epoch });
    }
    if (updates.length === 0) return;
    for (const u of updates) this.#cache.delete(`${namespace}\u0000${u.key}`);
    this.#guard(`write to namespace "${namespace}"`, () => {
      this.#db.transactionSync(() => {
        for (const { key, keyBytes, cells, eventTime, epoch } of updates) {
          // Inside the transaction a get sees earlier rows of this write, so rows for one key merge in order;
          // under "event-time" order the comparison reads the same snapshot the put replaces (one writer at a time).
          const text = this.#db.get(keyBytes);
          const existing = text === undefined ? undefined : parseEntry(text, this.#path, namespace, key);
          const applied = inEventTimeOrder && existing !== undefined ? notOlderCells(existing, cells, eventTime, epoch, `${this.#path} ${namespace}/${key}`) : cells;
          // Every feature ignored: the entry stays byte for byte, write times included.
          if (applied.size > 0) this.#db.putSync(keyBytes, mergeEntry(existing, applied));
        }
      });
    });
  }

  async read(namespace: string, keys: readonly string[], features: readonly string[], options: ReadOptions): Promise<FeatureRead[][]> {
    const ttls = ttlsFor(features, options);
    const now = options.now;
    return this.#guard(`read from namespace "${namespace}"`, () => {
      const prefixLength = this.#writePrefix(namespace);
      const out: FeatureRead[][] = [];
      for (const key of keys) {
        const entry = this.#entry(namespace, prefixLength, key);
        const row: FeatureRead[] = [];
        if (entry === undefined) {
          for (let i = 0; i < features.length; i++) row.push(NOT_FOUND);
        } else {
          for (let i = 0; i < features.length; i++) {
            const feature = features[i];
            const tuple = feature !== undefined && Object.hasOwn(entry, feature) ? entry[feature] : undefined;
            if (tuple === undefined) {
              row.push(NOT_FOUND);
              continue;
            }
            const cell = cellFromTuple(tuple);
            if (cell === undefined) throw corruptEntryError(`${this.#path} ${namespace}/${key} ${feature}`, CELL_SHAPE);
            row.push(cell.readAt(now, ttls[i]));
          }
        }
        out.push(row);
      }
      return out;
    });
  }

  async featuresOf(namespace: string, key: string): Promise<string[]> {
    return this.#guard(`read from namespace "${namespace}"`, () => {
      const length = this.#keyLength(this.#writePrefix(namespace), key);
      const text = length === undefined ? undefined : this.#db.get(this.#keyBytes.subarray(0, length));
      return text === undefined ? [] : Object.keys(parseEntry(text, this.#path, namespace, key)).sort();
    });
  }

  async deleteFeature(namespace: string, feature: string): Promise<void> {
    this.#cache.clear();
    this.#guard(`delete feature "${feature}" from namespace "${namespace}"`, () => {
      this.#db.transactionSync(() => {
        // Collected first, then written: the range is not changed under its own cursor.
        const changes: { key: Uint8Array; text: string | undefined }[] = [];
        for (const { key, value } of this.#db.getRange(namespaceRange(namespace))) {
          const entry = parseEntry(value, this.#path, namespace, "(scan)");
          if (!Object.hasOwn(entry, feature)) continue;
          const kept = Object.entries(entry).filter(([name]) => name !== feature);
          // A key left without features is removed, as Redis drops an empty hash.
          changes.push({ key, text: kept.length === 0 ? undefined : entryText(kept.map(([name, tuple]) => [name, JSON.stringify(tuple)])) });
        }
        for (const { key, text } of changes) {
          if (text === undefined) this.#db.removeSync(key);
          else this.#db.putSync(key, text);
        }
      });
    });
  }

  async dropNamespace(namespace: string): Promise<void> {
    this.#cache.clear();
    this.#guard(`drop namespace "${namespace}"`, () => {
      this.#db.transactionSync(() => {
        const keys = [...this.#db.getKeys(namespaceRange(namespace))];
        for (const key of keys) this.#db.removeSync(key);
      });
    });
  }

  async close(): Promise<void> {
    await this.#db.close();
  }

  /** A key's parsed entry, from the cache or LMDB (then cached); undefined when absent. */
  #entry(namespace: string, prefixLength: number, key: string): StoredEntry | undefined {
    const id = `${namespace}\u0000${key}`;
    const cached = this.#cache.get(id);
    if (cached !== undefined) return cached;
    const length = this.#keyLength(prefixLength, key);
    // A key too long to store cannot have been written.
    const text = length === undefined ? undefined : this.#db.get(this.#keyBytes.subarray(0, length));
    if (text === undefined) return undefined;
    const entry = parseEntry(text, this.#path, namespace, key);
    if (this.#cacheSize > 0) {
      if (this.#cache.size >= this.#cacheSize) {
        const oldest = this.#cache.keys().next();
        if (oldest.done !== true) this.#cache.delete(oldest.value);
      }
      this.#cache.set(id, entry);
    }
    return entry;
  }

  /** Writes `utf8(namespace) 0xFF` at the start of the key buffer; returns its length (or more than the maximum). */
  #writePrefix(namespace: string): number {
    const length = this.#keyBytes.write(namespace, 0);
    if (length >= MAX_KEY_BYTES) return MAX_KEY_BYTES;
    this.#keyBytes[length] = SEPARATOR;
    return length + 1;
  }

  /**
   * Writes `key` after the prefix; returns the key's total length, or undefined
   * when it exceeds LMDB's limit. The buffer has slack past the limit, so a
   * truncated write still ends beyond it and is caught.
   */
  #keyLength(prefixLength: number, key: string): number | undefined {
    if (prefixLength >= MAX_KEY_BYTES) return undefined;
    const length = prefixLength + this.#keyBytes.write(key, prefixLength);
    return length > MAX_KEY_BYTES ? undefined : length;
  }

  /** Runs an LMDB operation; its failures become StorageErrors naming the path (our own errors pass through). */
  #guard<T>(what: string, action: () => T): T {
    try {
      return action();
    } catch (cause) {
      if (cause instanceof FreshetError) throw cause;
      throw new StorageError(`LMDB online store at ${this.#path} failed to ${what}: ${messageOf(cause)}`, { cause });
    }
  }
}

/** [ns 0xFF, ns 0xFF 0xFF): every key of the namespace, and nothing else (UTF-8 has no 0xFF byte). */
function namespaceRange(namespace: string): { start: Uint8Array; end: Uint8Array } {
  const prefix = Buffer.from(namespace, "utf8");
  return { start: Buffer.concat([prefix, Buffer.of(SEPARATOR)]), end: Buffer.concat([prefix, Buffer.of(SEPARATOR, SEPARATOR)]) };
}

function parseEntry(text: string, path: string, namespace: string, key: string): StoredEntry {
  const entry = parseStoredJson(text);
  if (entry === undefined || !isFeatureObject(entry)) throw corruptEntryError(`${path} ${namespace}/${key}`, "a JSON object of features");
  return entry;
}

/**
 * The cells of a write at (eventTime, epoch) that "event-time" order lets
 * replace what `existing` holds: features it lacks, and those stored at an
 * (eventTime, epoch) not newer than the write's. `where` names the entry for
 * the error on a stored cell that does not decode.
 */
function notOlderCells(existing: StoredEntry, cells: ReadonlyMap<string, string>, eventTime: number, epoch: number, where: string): ReadonlyMap<string, string> {
  const applied = new Map<string, string>();
  for (const [feature, text] of cells) {
    const tuple = Object.hasOwn(existing, feature) ? existing[feature] : undefined;
    if (tuple !== undefined) {
      const stored = cellFromTuple(tuple);
      if (stored === undefined) throw corruptEntryError(`${where} ${feature}`, CELL_SHAPE);
      if (!stored.yieldsTo(eventTime, epoch)) continue;
    }
    applied.set(feature, text);
  }
  return applied;
}

/**
 * The stored entry with `cells` (feature → encoded cell) set over it. Built as
 * text so that a feature named "__proto__" stays an ordinary key.
 */
function mergeEntry(existing: StoredEntry | undefined, cells: ReadonlyMap<string, string>): string {
  const parts: [string, string][] = [];
  if (existing !== undefined) {
    for (const [feature, tuple] of Object.entries(existing)) {
      if (!cells.has(feature)) parts.push([feature, JSON.stringify(tuple)]);
    }
  }
  for (const part of cells) parts.push(part);
  return entryText(parts);
}

function entryText(parts: readonly (readonly [string, string])[]): string {
  let text = "{";
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part === undefined) continue;
    text += `${i > 0 ? "," : ""}${JSON.stringify(part[0])}:${part[1]}`;
  }
  return `${text}}`;
}

