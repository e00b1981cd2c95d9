import { createHash } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import { FreshetError, StorageError } from "../../errors.js";
import { cellFromText, corruptEntryError, encodeCell, NOT_FOUND, ttlsFor, validateWrite } from "./featureCell.js";
import type { FeatureRead, OnlineStore, OnlineWrite, ReadOptions, WriteOptions } from "./onlineStore.js";
import { messageOf } from "../../core/errorMessage.js";

export interface RedisOnlineStoreOptions {
  /** First part of every key; default "freshet". Use one per deployment (or test run) sharing a Redis. */
  readonly prefix?: string;
}

/** Keys scanned (and deleted) per SCAN step of deleteFeature and dropNamespace. */
const SCAN_COUNT = 1000;

/**
 * The online store in Redis. Layout, one HASH per (namespace, key):
 *
 *   key   `${prefix}:${namespace}:${key}`   (":" and "%" in the namespace are
 *         written %3A and %25, so one namespace is exactly one key prefix)
 *   field feature name
 *   value JSON text `[writtenAt, eventTime, value]` (see featureCell.ts)
 *
 * A write is one MULTI/EXEC; a read is one pipeline of HMGETs, so one round
 * trip whatever the number of keys. Served statuses come from the stored write
 * time and the read's `now`, never from Redis's clock: PEXPIRE (relative, on
 * Redis's clock, because `now` may be a replay clock) only frees memory.
 * deleteFeature and dropNamespace SCAN the namespace's key prefix; they are not
 * atomic with respect to concurrent writes.
 */
/** HMGET of the features (ARGV) for each key (KEYS), as one array per key. */
const READ_SCRIPT = "local out = {} for i, k in ipairs(KEYS) do out[i] = redis.call('HMGET', k, unpack(ARGV)) end return out";
const READ_SHA = createHash("sha1").update(READ_SCRIPT).digest("hex");

export class RedisOnlineStore implements OnlineStore {
  readonly kind = "redis";
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #address: string;
  #lastError: unknown;

  private constructor(client: Redis, options: RedisOnlineStoreOptions) {
    this.#client = client;
    this.#prefix = options.prefix ?? "freshet";
    this.#address = addressOf(client);
    // ioredis reports connection trouble as events; without a listener it logs them. Kept as the cause of the next failure.
    client.on("error", (error: unknown) => {
      this.#lastError = error;
    });
  }

  /** Connects, failing with a StorageError (not retrying forever) when Redis does not answer. */
  static async connect(urlOrOptions: string | RedisOptions, options: RedisOnlineStoreOptions = {}): Promise<RedisOnlineStore> {
    const client = typeof urlOrOptions === "string" ? new Redis(urlOrOptions, { lazyConnect: true }) : new Redis({ ...urlOrOptions, lazyConnect: true });
    const store = new RedisOnlineStore(client, options);
    try {
      await client.connect();
    } catch (cause) {
      client.disconnect();
      // ioredis rejects with "Connection is closed."; the event carries the reason (ECONNREFUSED, ENOTFOUND...).
      const reason = store.#lastError ?? cause;
      throw new StorageError(`Cannot connect to Redis at ${store.#address}: ${messageOf(reason)}. Check that Redis is running and the URL is right.`, {
        cause: reason,
      });
    }
    return store;
  }

  /** Wraps a client the caller created (shared options, instrumentation); close() quits it. */
  static fromClient(client: Redis, options: RedisOnlineStoreOptions = {}): RedisOnlineStore {
    return new RedisOnlineStore(client, options);
  }

  async write(namespace: string, rows: readonly OnlineWrite[], options: WriteOptions): Promise<void> {
    validateWrite(namespace, rows, options);
    const base = this.#keyBase(namespace);
    const multi = this.#client.multi();
    let queued = 0;
    for (const row of rows) {
      const eventTime = row.eventTime ?? options.now;
      const fields: string[] = [];
      for (const [feature, value] of Object.entries(row.features)) fields.push(feature, encodeCell(value, options.now, eventTime));
      // HSET needs a field; a row naming no feature writes nothing.
      if (fields.length === 0) continue;
      const key = base + row.key;
      multi.hset(key, ...fields);
      // Without a namespace TTL the hash must outlive any expiry an earlier write (under another TTL) set.
      if (options.expireAfterMs === undefined) multi.persist(key);
      else multi.pexpire(key, Math.ceil(options.expireAfterMs));
      queued++;
    }
    if (queued === 0) return;
    const results = await this.#run(`write to namespace "${namespace}"`, () => multi.exec());
    if (results === null) throw new StorageError(`Redis at ${this.#address} aborted the write to namespace "${namespace}" (EXEC returned null).`);
    this.#checkReplies(results, `write to namespace "${namespace}"`);
  }

  async read(namespace: string, keys: readonly string[], features: readonly string[], options: ReadOptions): Promise<FeatureRead[][]> {
    const ttls = ttlsFor(features, options);
    const now = options.now;
    if (keys.length === 0) return [];
    if (features.length === 0) return keys.map(() => []);
    const base = this.#keyBase(namespace);
    // One EVALSHA doing every HMGET server-side: one command for the client to
    // build and parse, where a pipeline of HMGETs costs one per key. (Like a
    // pipeline, it needs every key on one node: not for Redis Cluster batches.)
    const replies = await this.#run(`read from namespace "${namespace}"`, async () => {
      const redisKeys = keys.map((k) => base + k);
      const reply: unknown = await this.#client.evalsha(READ_SHA, redisKeys.length, ...redisKeys, ...features).catch(async (e: unknown) => {
        if (!(e instanceof Error) || !e.message.startsWith("NOSCRIPT")) throw e;
        return this.#client.eval(READ_SCRIPT, redisKeys.length, ...redisKeys, ...features);
      });
      if (!Array.isArray(reply) || reply.length !== keys.length) throw new StorageError(`Redis at ${this.#address} answered a read of namespace "${namespace}" with an unexpected reply.`);
      return reply as unknown[];
    });
    const out: FeatureRead[][] = [];
    for (let k = 0; k < keys.length; k++) {
      const reply = replies[k];
      if (!Array.isArray(reply) || reply.length !== features.length) {
        throw new StorageError(`Redis at ${this.#address} answered HMGET for namespace "${namespace}" with an unexpected reply.`);
      }
      const row: FeatureRead[] = [];
      for (let i = 0; i < features.length; i++) {
        const text: unknown = reply[i];
        if (typeof text !== "string") {
          row.push(NOT_FOUND);
          continue;
        }
        const cell = cellFromText(text);
        if (cell === undefined) throw corruptEntryError(`Redis ${this.#address} ${base}${keys[k] ?? ""} ${features[i] ?? ""}`, "[writtenAt, eventTime, value]");
        row.push(cell.readAt(now, ttls[i]));
      }
      out.push(row);
    }
    return out;
  }

  async featuresOf(namespace: string, key: string): Promise<string[]> {
    const names = await this.#run(`read from namespace "${namespace}"`, () => this.#client.hkeys(this.#keyBase(namespace) + key));
    return names.sort();
  }

  async deleteFeature(namespace: string, feature: string): Promise<void> {
    // HDEL of a hash's last field deletes the hash, so keys left without features disappear.
    await this.#forEachKeyBatch(namespace, `delete feature "${feature}" from namespace "${namespace}"`, async (keys) => {
      const pipeline = this.#client.pipeline();
      for (const key of keys) pipeline.hdel(key, feature);
      this.#checkReplies(await pipeline.exec(), `delete feature "${feature}" from namespace "${namespace}"`);
    });
  }

  async dropNamespace(namespace: string): Promise<void> {
    await this.#forEachKeyBatch(namespace, `drop namespace "${namespace}"`, async (keys) => {
      await this.#client.unlink(...keys);
    });
  }

  async close(): Promise<void> {
    try {
      await this.#client.quit();
    } catch {
      // Already disconnected: nothing left to close.
      this.#client.disconnect();
    }
  }

  /** `${prefix}:${namespace}:` with the namespace escaped so it holds no ":". */
  #keyBase(namespace: string): string {
    return `${this.#prefix}:${namespace.replace(/%/g, "%25").replace(/:/g, "%3A")}:`;
  }

  /** SCANs (never KEYS: it blocks Redis) the namespace's keys and hands them over in batches. */
  async #forEachKeyBatch(namespace: string, what: string, handle: (keys: string[]) => Promise<void>): Promise<void> {
    const pattern = `${escapeGlob(this.#keyBase(namespace))}*`;
    await this.#run(what, async () => {
      let cursor = "0";
      do {
        const [next, keys] = await this.#client.scan(cursor, "MATCH", pattern, "COUNT", SCAN_COUNT);
        cursor = next;
        if (keys.length > 0) await handle(keys);
      } while (cursor !== "0");
    });
  }

  /** Runs a Redis call; its failures become StorageErrors naming Redis and the address (our own errors pass through). */
  async #run<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (cause) {
      if (cause instanceof FreshetError) throw cause;
      throw new StorageError(`Redis at ${this.#address} failed to ${what}: ${messageOf(cause)}`, { cause });
    }
  }

  /** The replies of a pipeline or MULTI, or a StorageError for the first command that failed. */
  #checkReplies(results: [error: Error | null, reply: unknown][] | null, what: string): unknown[] {
    if (results === null) throw new StorageError(`Redis at ${this.#address} returned no replies to ${what}.`);
    const replies: unknown[] = [];
    for (const [error, reply] of results) {
      if (error !== null) throw new StorageError(`Redis at ${this.#address} failed to ${what}: ${error.message}`, { cause: error });
      replies.push(reply);
    }
    return replies;
  }
}

function addressOf(client: Redis): string {
  const { path, host, port } = client.options;
  return path !== undefined && path !== "" ? path : `${host ?? "localhost"}:${port ?? 6379}`;
}

/** Escapes Redis glob characters so a literal prefix matches only itself in SCAN MATCH. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

