import { createHash } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import { FreshetError, StorageError } from "../../errors.js";
import { CELL_SHAPE, cellFromText, corruptEntryError, encodeCell, NOT_FOUND, ttlsFor, validateWrite } from "./featureCell.js";
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
 *   value JSON text `[writtenAt, eventTime, value]`, or
 *         `[writtenAt, eventTime, value, epoch]` when the write's epoch is > 0
 *         (see featureCell.ts)
 *
 * A write is one MULTI/EXEC ("write" order) or one script call ("event-time"
 * order, see ORDERED_WRITE_SCRIPT); a read is one script call doing the HMGETs,
 * so one round trip whatever the number of keys. Served statuses come from the stored write
 * time and the read's `now`, never from Redis's clock: PEXPIRE (relative, on
 * Redis's clock, because `now` may be a replay clock) only frees memory.
 * deleteFeature and dropNamespace SCAN the namespace's key prefix; they are not
 * atomic with respect to concurrent writes.
 */
/** A Lua script and its SHA-1, run by `evalScript`. */
interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

function luaScript(lua: string): LuaScript {
  return { lua, sha: createHash("sha1").update(lua).digest("hex") };
}

/** HMGET of the features (ARGV) for each key (KEYS), as one array per key. */
const READ_SCRIPT = luaScript("local out = {} for i, k in ipairs(KEYS) do out[i] = redis.call('HMGET', k, unpack(ARGV)) end return out");

/**
 * A write in "event-time" order, compare-and-set on the server. One call per
 * batch rather than a MULTI of one call per row: a script runs atomically
 * anyway, and one command is one to build and parse (as for reads); the cost
 * is that every key of a batch must live on one node (no Redis Cluster).
 *
 * KEYS: the hash of each row that names a feature (a key may repeat).
 * ARGV[1]: the PEXPIRE in ms, or "" to PERSIST (the "write" order's rule).
 * Then per row: eventTime, epoch, n, and n pairs (feature, encoded cell).
 *
 * First pass: decide every feature against the stored cell (one HMGET per
 * row) or, for a feature an earlier row of the batch set, against the cell
 * that row set, kept in `decided` (those HSETs have not run yet; kept only
 * for keys with several rows). Second pass: the HSETs and expiries.
 * Nothing is written until every stored cell was understood, because Redis
 * keeps a script's writes made before an error: the error leaves the hashes
 * untouched.
 *
 * The rule is featureCell.ts's `replaces`: (eventTime, epoch) >= stored, in
 * that order; a cell without an epoch has epoch 0. The stored event time is
 * read between the first two commas (a cell starts `[writtenAt,eventTime,`);
 * only a tie on it decodes the cell with cjson, for the epoch, which comes
 * after a value of any shape. (Decoding every cell with cjson ran at 0.64–0.73
 * of the "write" order's rows/s in bench/onlineWrites.ts, this at 0.80–0.93:
 * most of what is left is Redis's cost per redis.call from Lua, an HMGET, an
 * HSET and a PERSIST per row.) Numbers cross as decimal text that both sides parse to the same
 * double. cjson refuses escaped lone surrogates (JSON.stringify writes
 * "\ud800" for one), which only the value can hold: they are blanked to
 * \u00xx before decoding, which leaves the numbers, the only part read, as
 * they are. Lua's unpack() takes at most a few thousand values, so HMGET and
 * HSET go in chunks.
 */
const ORDERED_WRITE_SCRIPT = luaScript(String.raw`
local CHUNK = 1000
local function hmget(key, names)
  if #names <= CHUNK then return redis.call('HMGET', key, unpack(names)) end
  local out = {}
  for s = 1, #names, CHUNK do
    local part = redis.call('HMGET', key, unpack(names, s, math.min(s + CHUNK - 1, #names)))
    for j = 1, #part do out[s + j - 1] = part[j] end
  end
  return out
end
local function hset(key, fields)
  for s = 1, #fields, 2 * CHUNK do
    redis.call('HSET', key, unpack(fields, s, math.min(s + 2 * CHUNK - 1, #fields)))
  end
end
local function epoch_of(text)
  if string.find(text, '\\u', 1, true) then text = string.gsub(text, '\\u[dD][89a-fA-F]', '\\u00') end
  local ok, cell = pcall(cjson.decode, text)
  if not ok or type(cell) ~= 'table' or type(cell[1]) ~= 'number' or type(cell[2]) ~= 'number' or cell[3] == nil then return nil end
  local epoch = cell[4]
  if epoch == nil then return 0 end
  if type(epoch) ~= 'number' or epoch < 0 or epoch % 1 ~= 0 or cell[5] ~= nil then return nil end
  return epoch
end
local function replaces(event_time, epoch, text)
  local first = string.byte(text, 1) == 91 and string.find(text, ',', 2, true)
  local second = first and string.find(text, ',', first + 1, true)
  local stored_time = second and tonumber(string.sub(text, first + 1, second - 1))
  if not stored_time then return nil end
  if event_time ~= stored_time then return event_time > stored_time end
  local stored_epoch = epoch_of(text)
  if stored_epoch == nil then return nil end
  return epoch >= stored_epoch
end
local expire = ARGV[1]
local rows_of = {}
for _, key in ipairs(KEYS) do rows_of[key] = (rows_of[key] or 0) + 1 end
local decided = {}
local writes = {}
local a = 2
for _, key in ipairs(KEYS) do
  local event_time, epoch, n = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local first = a + 3
  a = first + 2 * n
  local known = nil
  if rows_of[key] > 1 then
    known = decided[key]
    if known == nil then known = {}; decided[key] = known end
  end
  local names = {}
  for j = 1, n do names[j] = ARGV[first + 2 * j - 2] end
  local stored = hmget(key, names)
  local fields = {}
  for j = 1, n do
    local name, cell = names[j], ARGV[first + 2 * j - 1]
    local current = known and known[name] or stored[j]
    local apply = true
    if current then
      apply = replaces(event_time, epoch, current)
      if apply == nil then return redis.error_reply('FRESHET_CORRUPT ' .. key .. ' ' .. name) end
    end
    if apply then
      fields[#fields + 1] = name
      fields[#fields + 1] = cell
      if known then known[name] = cell end
    end
  end
  if #fields > 0 then writes[#writes + 1] = { key, fields } end
end
for _, w in ipairs(writes) do
  hset(w[1], w[2])
  if expire == '' then redis.call('PERSIST', w[1]) else redis.call('PEXPIRE', w[1], expire) end
end
return #writes
`);

const CORRUPT_REPLY = "FRESHET_CORRUPT ";

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
    if (options.order === "event-time") return this.#writeInEventTimeOrder(namespace, rows, options);
    const base = this.#keyBase(namespace);
    const multi = this.#client.multi();
    let queued = 0;
    for (const row of rows) {
      const eventTime = row.eventTime ?? options.now;
      const fields: string[] = [];
      for (const [feature, value] of Object.entries(row.features)) fields.push(feature, encodeCell(value, options.now, eventTime, row.epoch));
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

  /** One ORDERED_WRITE_SCRIPT call for the whole batch: one round trip, compared and set atomically on the server. */
  async #writeInEventTimeOrder(namespace: string, rows: readonly OnlineWrite[], options: WriteOptions): Promise<void> {
    const base = this.#keyBase(namespace);
    const keys: string[] = [];
    const args: string[] = [options.expireAfterMs === undefined ? "" : String(Math.ceil(options.expireAfterMs))];
    for (const row of rows) {
      const features = Object.entries(row.features);
      if (features.length === 0) continue;
      const eventTime = row.eventTime ?? options.now;
      const epoch = row.epoch ?? 0;
      keys.push(base + row.key);
      args.push(String(eventTime), String(epoch), String(features.length));
      for (const [feature, value] of features) args.push(feature, encodeCell(value, options.now, eventTime, epoch));
    }
    if (keys.length === 0) return;
    const what = `write to namespace "${namespace}"`;
    const reply = await this.#run(what, () =>
      // A batch of 10,000 rows is 140,000 arguments: one array (see evalScript).
      evalScript(this.#client, ORDERED_WRITE_SCRIPT, keys.length, keys.concat(args)).catch((e: unknown) => {
        const message = e instanceof Error ? e.message : "";
        if (!message.startsWith(CORRUPT_REPLY)) throw e;
        throw corruptEntryError(`Redis ${this.#address} ${message.slice(CORRUPT_REPLY.length)}`, CELL_SHAPE);
      }),
    );
    if (typeof reply !== "number") throw new StorageError(`Redis at ${this.#address} answered a ${what} with an unexpected reply.`);
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
      const reply = await evalScript(this.#client, READ_SCRIPT, keys.length, keys.map((k) => base + k).concat(features));
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
        if (cell === undefined) throw corruptEntryError(`Redis ${this.#address} ${base}${keys[k] ?? ""} ${features[i] ?? ""}`, CELL_SHAPE);
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

/**
 * Runs a script by EVALSHA, sending its text with EVAL when Redis does not
 * hold it (NOSCRIPT: the first call, or after a restart or SCRIPT FLUSH).
 * Keys and arguments go as one array, which ioredis flattens: spread, a read
 * of 150,000 keys overflowed the call stack.
 */
function evalScript(client: Redis, script: LuaScript, numberOfKeys: number, keysAndArgs: string[]): Promise<unknown> {
  return client.evalsha(script.sha, numberOfKeys, keysAndArgs).catch((e: unknown) => {
    if (!(e instanceof Error) || !e.message.startsWith("NOSCRIPT")) throw e;
    return client.eval(script.lua, numberOfKeys, keysAndArgs);
  });
}

function addressOf(client: Redis): string {
  const { path, host, port } = client.options;
  return path !== undefined && path !== "" ? path : `${host ?? "localhost"}:${port ?? 6379}`;
}

/** Escapes Redis glob characters so a literal prefix matches only itself in SCAN MATCH. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

