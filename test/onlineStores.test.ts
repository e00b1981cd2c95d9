/** The online store conformance suite against memory, LMDB (also reopened after every change) and Redis, plus store-specific checks. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it, vi } from "vitest";
import { RequestError, StorageError } from "../src/errors.js";
import { LmdbOnlineStore } from "../src/stores/online/lmdbOnlineStore.js";
import { MemoryOnlineStore } from "../src/stores/online/memoryOnlineStore.js";
import type { FeatureRead, OnlineStore, OnlineWrite, ReadOptions, WriteOptions } from "../src/stores/online/onlineStore.js";
import { RedisOnlineStore } from "../src/stores/online/redisOnlineStore.js";
import { serviceAvailable, SERVICES } from "./helpers/services.js";
import { onlineStoreConformance } from "./onlineStore.conformance.js";

const T = 1_700_000_000_000;

onlineStoreConformance("memory", async () => new MemoryOnlineStore());

const lmdbDir = await mkdtemp(join(tmpdir(), "freshet-online-lmdb-"));
onlineStoreConformance(
  "lmdb",
  async () => LmdbOnlineStore.open(join(lmdbDir, "online")),
  () => rm(lmdbDir, { recursive: true, force: true }),
);

// The parsed-entry cache evicting at every other key, and no cache at all: the same answers.
const tinyCacheDir = await mkdtemp(join(tmpdir(), "freshet-online-lmdb-cache-"));
onlineStoreConformance(
  "lmdb (2-entry cache)",
  async () => LmdbOnlineStore.open(join(tinyCacheDir, "online"), { cacheSize: 2 }),
  () => rm(tinyCacheDir, { recursive: true, force: true }),
);
const noCacheDir = await mkdtemp(join(tmpdir(), "freshet-online-lmdb-nocache-"));
onlineStoreConformance(
  "lmdb (no cache)",
  async () => LmdbOnlineStore.open(join(noCacheDir, "online"), { cacheSize: 0 }),
  () => rm(noCacheDir, { recursive: true, force: true }),
);

/**
 * LMDB closed and reopened after every change, so every read of the suite
 * reads what an earlier process wrote.
 */
class ReopenedLmdbStore implements OnlineStore {
  readonly kind = "lmdb";
  #store: LmdbOnlineStore;
  constructor(private readonly path: string) {
    this.#store = LmdbOnlineStore.open(path);
  }
  async write(namespace: string, rows: readonly OnlineWrite[], options: WriteOptions): Promise<void> {
    try {
      await this.#store.write(namespace, rows, options);
    } finally {
      await this.#reopen();
    }
  }
  read(namespace: string, keys: readonly string[], features: readonly string[], options: ReadOptions): Promise<FeatureRead[][]> {
    return this.#store.read(namespace, keys, features, options);
  }
  featuresOf(namespace: string, key: string): Promise<string[]> {
    return this.#store.featuresOf(namespace, key);
  }
  async deleteFeature(namespace: string, feature: string): Promise<void> {
    await this.#store.deleteFeature(namespace, feature);
    await this.#reopen();
  }
  async dropNamespace(namespace: string): Promise<void> {
    await this.#store.dropNamespace(namespace);
    await this.#reopen();
  }
  close(): Promise<void> {
    return this.#store.close();
  }
  async #reopen(): Promise<void> {
    await this.#store.close();
    this.#store = LmdbOnlineStore.open(this.path);
  }
}

const reopenedDir = await mkdtemp(join(tmpdir(), "freshet-online-lmdb-reopened-"));
onlineStoreConformance(
  "lmdb, reopened after every change",
  async () => new ReopenedLmdbStore(join(reopenedDir, "online")),
  () => rm(reopenedDir, { recursive: true, force: true }),
);

describe("LmdbOnlineStore", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("keeps values across close and reopen", async () => {
    const dir = await mkdtemp(join(tmpdir(), "freshet-online-lmdb-persist-"));
    dirs.push(dir);
    const path = join(dir, "online");
    const first = LmdbOnlineStore.open(path);
    await first.write("stats", [{ key: "u1", features: { a: [1, { b: "c" }] }, eventTime: T - 1 }], { now: T });
    await first.close();
    const second = LmdbOnlineStore.open(path);
    expect(await second.read("stats", ["u1"], ["a"], { now: T + 1, ttlMs: { a: 1 } })).toEqual([[{ value: [1, { b: "c" }], status: "PRESENT", eventTime: T - 1 }]]);
    expect(await second.read("stats", ["u1"], ["a"], { now: T + 2, ttlMs: { a: 1 } })).toEqual([[{ value: null, status: "OUTSIDE_MAX_AGE", eventTime: T - 1 }]]);
    await second.close();
  });

  it("rejects a key longer than LMDB allows before writing any row, and reads it as NOT_FOUND", async () => {
    const dir = await mkdtemp(join(tmpdir(), "freshet-online-lmdb-long-"));
    dirs.push(dir);
    const store = LmdbOnlineStore.open(join(dir, "online"));
    const long = "k".repeat(2_000);
    const write = store.write(
      "stats",
      [
        { key: "u1", features: { a: 1 } },
        { key: long, features: { a: 2 } },
      ],
      { now: T },
    );
    await expect(write).rejects.toBeInstanceOf(RequestError);
    await expect(write).rejects.toThrow(/too long for LMDB/);
    expect(await store.read("stats", ["u1", long], ["a"], { now: T })).toEqual([
      [{ value: null, status: "NOT_FOUND", eventTime: null }],
      [{ value: null, status: "NOT_FOUND", eventTime: null }],
    ]);
    await store.close();
  });
});

describe("RedisOnlineStore connection errors", () => {
  it("fails with a StorageError naming Redis and the address when nothing listens", async () => {
    const error: unknown = await RedisOnlineStore.connect("redis://127.0.0.1:1").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: "STORAGE_ERROR" });
    expect(error instanceof Error ? error.message : "").toMatch(/^Cannot connect to Redis at 127\.0\.0\.1:1: .*ECONNREFUSED/);
  });
});

const redisUp = await serviceAvailable("redis");
const prefix = `freshet-test-${process.pid}-${Date.now()}`;

describe.skipIf(!redisUp)("RedisOnlineStore", () => {
  afterAll(async () => {
    // Every key this run wrote, whatever namespace: SCAN the prefix and delete.
    const client = new Redis(SERVICES.redis.url);
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== "0");
    const [, left] = await client.scan("0", "MATCH", `${prefix}:*`, "COUNT", 100_000);
    await client.quit();
    expect(left).toEqual([]);
  });

  onlineStoreConformance("redis", () => RedisOnlineStore.connect(SERVICES.redis.url, { prefix }));

  it("stores one hash per (namespace, key), one JSON [writtenAt, eventTime, value] field per feature", async () => {
    const store = await RedisOnlineStore.connect(SERVICES.redis.url, { prefix });
    const client = new Redis(SERVICES.redis.url);
    try {
      await store.write("layout:v1", [{ key: "u:1", features: { a: { x: [1] }, b: null }, eventTime: T - 5 }], { now: T });
      expect(await client.type(`${prefix}:layout%3Av1:u:1`)).toBe("hash");
      expect(await client.hgetall(`${prefix}:layout%3Av1:u:1`)).toEqual({ a: `[${T},${T - 5},{"x":[1]}]`, b: `[${T},${T - 5},null]` });
    } finally {
      await client.quit();
      await store.close();
    }
  });

  it("PEXPIREs a hash when the write has expireAfterMs, and PERSISTs it when not", async () => {
    const store = await RedisOnlineStore.connect(SERVICES.redis.url, { prefix });
    const client = new Redis(SERVICES.redis.url);
    try {
      await store.write("expiry", [{ key: "u1", features: { a: 1 } }], { now: T, expireAfterMs: 60_000 });
      const ttl = await client.pttl(`${prefix}:expiry:u1`);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      await store.write("expiry", [{ key: "u1", features: { b: 2 } }], { now: T + 1 });
      expect(await client.pttl(`${prefix}:expiry:u1`)).toBe(-1);
      // Redis dropping the hash reads as NOT_FOUND; Redis keeping it never serves past the TTL (checked by the suite).
      await store.write("expiry", [{ key: "u2", features: { a: 1 } }], { now: T, expireAfterMs: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await store.read("expiry", ["u2"], ["a"], { now: T })).toEqual([[{ value: null, status: "NOT_FOUND", eventTime: null }]]);
    } finally {
      await client.quit();
      await store.close();
    }
  });

  it("reads any number of keys in one round trip (one socket write)", async () => {
    const client = new Redis(SERVICES.redis.url);
    const store = RedisOnlineStore.fromClient(client, { prefix });
    try {
      const rows = Array.from({ length: 200 }, (_, i) => ({ key: `u${i}`, features: { a: i, b: -i } }));
      await store.write("round-trips", rows, { now: T });
      const socketWrite = vi.spyOn(client.stream, "write");
      const reads = await store.read(
        "round-trips",
        rows.map((row) => row.key),
        ["a", "b"],
        { now: T },
      );
      expect(socketWrite).toHaveBeenCalledTimes(1);
      socketWrite.mockRestore();
      expect(reads[199]).toEqual([
        { value: 199, status: "PRESENT", eventTime: T },
        { value: -199, status: "PRESENT", eventTime: T },
      ]);
    } finally {
      await store.close();
    }
  });

  it("stores the epoch as a 4th element only when it is > 0, in either order", async () => {
    const store = await RedisOnlineStore.connect(SERVICES.redis.url, { prefix });
    const client = new Redis(SERVICES.redis.url);
    try {
      await store.write("layout-epoch", [{ key: "u1", features: { a: 1 }, eventTime: T - 5, epoch: 3 }, { key: "u2", features: { a: 2 }, eventTime: T - 5, epoch: 0 }], {
        now: T,
        order: "event-time",
      });
      await store.write("layout-epoch", [{ key: "u3", features: { a: [3] }, eventTime: T - 5, epoch: 12 }], { now: T });
      expect(await client.hget(`${prefix}:layout-epoch:u1`, "a")).toBe(`[${T},${T - 5},1,3]`);
      expect(await client.hget(`${prefix}:layout-epoch:u2`, "a")).toBe(`[${T},${T - 5},2]`);
      expect(await client.hget(`${prefix}:layout-epoch:u3`, "a")).toBe(`[${T},${T - 5},[3],12]`);
    } finally {
      await client.quit();
      await store.close();
    }
  });

  it("compares against stored cells whose value cjson cannot decode (an escaped lone surrogate)", async () => {
    const store = await RedisOnlineStore.connect(SERVICES.redis.url, { prefix });
    try {
      const ns = "surrogate";
      await store.write(ns, [{ key: "u1", features: { a: "\ud800", b: { "\udc00": "x\\ud800" } }, eventTime: T - 10, epoch: 2 }], { now: T });
      await store.write(ns, [{ key: "u1", features: { a: "older", b: "older" }, eventTime: T - 10, epoch: 1 }], { now: T + 1, order: "event-time" });
      expect(await store.read(ns, ["u1"], ["a", "b"], { now: T + 2 })).toEqual([
        [
          { value: "\ud800", status: "PRESENT", eventTime: T - 10 },
          { value: { "\udc00": "x\\ud800" }, status: "PRESENT", eventTime: T - 10 },
        ],
      ]);
      await store.write(ns, [{ key: "u1", features: { a: "newer" } }], { now: T + 3, order: "event-time" });
      expect(await store.read(ns, ["u1"], ["a"], { now: T + 3 })).toEqual([[{ value: "newer", status: "PRESENT", eventTime: T + 3 }]]);
    } finally {
      await store.close();
    }
  });

  it("fails an event-time write over a corrupt cell with a StorageError naming it, writing nothing of the batch", async () => {
    const store = await RedisOnlineStore.connect(SERVICES.redis.url, { prefix });
    const client = new Redis(SERVICES.redis.url);
    try {
      await store.write("corrupt", [{ key: "u1", features: { a: 1 } }], { now: T });
      // The epoch is read only on an event-time tie (the write's is T + 1), so the bad epochs are stored at T + 1.
      for (const bad of ["not json", "[1,2]", `[${T},"x",1]`, `[${T},${T + 1},1,-1]`, `[${T},${T + 1},1,1.5]`, `[${T},${T + 1},1,2,3]`, `[${T},${T + 1},"\\ud800`]) {
        await client.hset(`${prefix}:corrupt:u2`, "b", bad);
        const error: unknown = await store
          .write(
            "corrupt",
            [
              { key: "u1", features: { a: 2 } },
              { key: "u2", features: { c: 3, b: 4 } },
            ],
            { now: T + 1, order: "event-time" },
          )
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(error).toBeInstanceOf(StorageError);
        expect(error instanceof Error ? error.message : "").toContain(`Corrupt online store entry at Redis 127.0.0.1:${SERVICES.redis.port} ${prefix}:corrupt:u2 b`);
        // The script decides everything before it writes anything: u1 and u2's other feature are untouched.
        expect(await client.hgetall(`${prefix}:corrupt:u1`)).toEqual({ a: `[${T},${T},1]` });
        expect(await client.hkeys(`${prefix}:corrupt:u2`)).toEqual(["b"]);
      }
    } finally {
      await client.quit();
      await store.close();
    }
  });

  it("in event-time order, PEXPIREs or PERSISTs a hash as plain writes do, and leaves a hash whose write it ignored in full", async () => {
    const store = await RedisOnlineStore.connect(SERVICES.redis.url, { prefix });
    const client = new Redis(SERVICES.redis.url);
    const key = `${prefix}:ordered-expiry:u1`;
    const ordered = { order: "event-time" } as const;
    try {
      await store.write("ordered-expiry", [{ key: "u1", features: { a: 1 }, eventTime: T }], { ...ordered, now: T, expireAfterMs: 60_000 });
      expect(await client.pttl(key)).toBeGreaterThan(50_000);
      // Ignored in full (older): neither PERSIST nor a new PEXPIRE.
      await client.pexpire(key, 30_000);
      await store.write("ordered-expiry", [{ key: "u1", features: { a: 0 }, eventTime: T - 1 }], { ...ordered, now: T + 1 });
      const kept = await client.pttl(key);
      expect(kept).toBeGreaterThan(20_000);
      expect(kept).toBeLessThanOrEqual(30_000);
      await store.write("ordered-expiry", [{ key: "u1", features: { a: 0 }, eventTime: T - 1 }], { ...ordered, now: T + 1, expireAfterMs: 90_000 });
      expect(await client.pttl(key)).toBeLessThanOrEqual(30_000);
      // Applied without expireAfterMs: PERSIST, as a plain write.
      await store.write("ordered-expiry", [{ key: "u1", features: { b: 2 }, eventTime: T - 1 }], { ...ordered, now: T + 2 });
      expect(await client.pttl(key)).toBe(-1);
      expect(await store.read("ordered-expiry", ["u1"], ["a", "b"], { now: T + 2 })).toEqual([
        [
          { value: 1, status: "PRESENT", eventTime: T },
          { value: 2, status: "PRESENT", eventTime: T - 1 },
        ],
      ]);
    } finally {
      await client.quit();
      await store.close();
    }
  });

  it("writes a batch in event-time order in one round trip (one socket write), and a row of 5,000 features", async () => {
    const client = new Redis(SERVICES.redis.url);
    const store = RedisOnlineStore.fromClient(client, { prefix });
    try {
      const rows = (eventTime: number): OnlineWrite[] => Array.from({ length: 500 }, (_, i) => ({ key: `u${i}`, features: { a: i, b: -i - 1 }, eventTime }));
      // The first call may need EVAL after a NOSCRIPT; from then on EVALSHA finds the script.
      await store.write("ordered-trips", rows(T), { now: T, order: "event-time" });
      const socketWrite = vi.spyOn(client.stream, "write");
      await store.write("ordered-trips", rows(T + 1), { now: T + 1, order: "event-time" });
      expect(socketWrite).toHaveBeenCalledTimes(1);
      socketWrite.mockRestore();
      expect(await store.read("ordered-trips", ["u499"], ["a", "b"], { now: T + 1 })).toEqual([
        [
          { value: 499, status: "PRESENT", eventTime: T + 1 },
          { value: -500, status: "PRESENT", eventTime: T + 1 },
        ],
      ]);
      // More fields than Lua's unpack() takes at once: the script goes in chunks.
      const wide = (eventTime: number, base: number): OnlineWrite => ({ key: "wide", features: Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`f${i}`, base + i])), eventTime });
      await store.write("ordered-trips", [wide(T, 0)], { now: T, order: "event-time" });
      await store.write("ordered-trips", [wide(T - 1, 100_000), { key: "wide", features: { f4999: -1, f0: -2 }, eventTime: T, epoch: 1 }], { now: T, order: "event-time" });
      const [row] = await store.read("ordered-trips", ["wide"], ["f0", "f1", "f2500", "f4999"], { now: T });
      expect(row?.map((read) => read.value)).toEqual([-2, 1, 2500, -1]);
      expect(await store.featuresOf("ordered-trips", "wide")).toHaveLength(5_000);
    } finally {
      await store.close();
    }
  });

  it("reads 150,000 keys in one call", async () => {
    const store = await RedisOnlineStore.connect(SERVICES.redis.url, { prefix });
    try {
      await store.write("many-keys", [{ key: "k149999", features: { a: 1 } }], { now: T });
      const reads = await store.read("many-keys", Array.from({ length: 150_000 }, (_, i) => `k${i}`), ["a"], { now: T });
      expect(reads).toHaveLength(150_000);
      expect(reads[0]).toEqual([{ value: null, status: "NOT_FOUND", eventTime: null }]);
      expect(reads[149_999]).toEqual([{ value: 1, status: "PRESENT", eventTime: T }]);
    } finally {
      await store.close();
    }
  });

  it("turns a failure after connecting into a StorageError naming Redis and the address", async () => {
    const store = await RedisOnlineStore.connect({ host: "127.0.0.1", port: SERVICES.redis.port, maxRetriesPerRequest: 0, enableOfflineQueue: false }, { prefix });
    await store.close();
    const error: unknown = await store.read("gone", ["u1"], ["a"], { now: T }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageError);
    expect(error instanceof Error ? error.message : "").toContain(`Redis at 127.0.0.1:${SERVICES.redis.port} failed to read from namespace "gone"`);
  });
});
