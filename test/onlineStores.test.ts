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
