import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointStateStore } from "../src/stores/online/checkpointStateStore.js";
import { durabilityNote, RedisCheckpointMedium } from "../src/stores/online/redisCheckpointMedium.js";
import { StorageError } from "../src/errors.js";
import { checkpointChainCases, type CheckpointPlace } from "./checkpointChain.cases.js";
import { monitorRedis } from "./helpers/redisMonitor.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";

const hasRedis = await serviceAvailable("redis");
const url = SERVICES.redis.url;
const run = `freshet-test:ckpt:${process.pid}:${Date.now()}`;
let places = 0;
const admin = hasRedis ? new Redis(url) : undefined;

afterAll(async () => {
  if (admin === undefined) return;
  const keys = await admin.keys(`${run}:*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

const field = (epoch: number): string => String(epoch).padStart(12, "0");

describe.skipIf(!hasRedis)("Redis checkpoints", () => {
  checkpointChainCases("redis", async (): Promise<CheckpointPlace> => {
    const prefix = `${run}:${++places}`;
    const redis = admin as Redis;
    return {
      open: async (options) => CheckpointStateStore.openOn(await RedisCheckpointMedium.connect({ redis: url, prefix }), options),
      stored: async () =>
        [...(await redis.hkeys(`${prefix}:checkpoints`)), ...(await redis.hkeys(`${prefix}:corrupt`)).map((f) => `${f}.corrupt`)].sort(),
      damage: async (epoch, edit) => {
        const blob = await redis.hgetBuffer(`${prefix}:checkpoints`, field(epoch));
        await redis.hset(`${prefix}:checkpoints`, field(epoch), edit(blob as Buffer));
      },
    };
  });

  it("writes each checkpoint as one field of one hash, in a MULTI/EXEC with the dropping of the old chain", async () => {
    const prefix = `${run}:multi`;
    const seen: string[][] = [];
    const monitor = await monitorRedis(SERVICES.redis.host, SERVICES.redis.port, (args) => {
      if (args.some((a) => a.startsWith(prefix))) seen.push(args.map((a) => (a.length > 100 ? "<blob>" : a)));
      else if (["multi", "exec"].includes(String(args[0]).toLowerCase())) seen.push([String(args[0]).toLowerCase()]);
    });
    const s = await CheckpointStateStore.openOn(await RedisCheckpointMedium.connect({ redis: url, prefix }), { fullEvery: 2 });
    for (let i = 1; i <= 5; i++) await s.commit([{ table: "t", group: 0, key: "a", value: i }], { pos: i });
    await s.close();
    await new Promise((r) => setTimeout(r, 100));
    monitor.stop();
    // Epoch 5 starts a new chain: its HSET and the HDEL of the chain before the current one (1, 2) share one transaction.
    const writes = seen.filter((a) => a[0] !== "multi" && a[0] !== "exec" && a[0]?.toLowerCase() !== "hkeys" && a[0]?.toLowerCase() !== "client");
    const hset5 = seen.findIndex((a) => a[0]?.toLowerCase() === "hset" && a[2] === field(5));
    expect(hset5).toBeGreaterThan(0);
    expect(seen[hset5 - 1]).toEqual(["multi"]);
    expect(seen[hset5 + 1]?.slice(0, 4).map((x) => x.toLowerCase())).toEqual(["hdel", `${prefix}:checkpoints`, field(1), field(2)].map((x) => x.toLowerCase()));
    expect(seen[hset5 + 2]).toEqual(["exec"]);
    expect(writes.filter((a) => a[0]?.toLowerCase() === "hset").map((a) => a[2])).toEqual([1, 2, 3, 4, 5].map(field));
    expect((await (admin as Redis).hkeys(`${prefix}:checkpoints`)).sort()).toEqual([3, 4, 5].map(field));
  });

  it("reports the server's persistence setting, and fails with a StorageError naming Redis when it is unreachable", async () => {
    const m = await RedisCheckpointMedium.connect({ redis: url, prefix: `${run}:dur` });
    const aof = ((await (admin as Redis).config("GET", "appendonly")) as string[])[1];
    if (aof === "yes") expect(m.durability).toMatch(/^aof-/);
    else expect(["memory-only", "rdb-snapshots"]).toContain(m.durability);
    // What stats() and `freshet run`'s log say of the state: where, and what the server's setting means.
    const store = await CheckpointStateStore.openOn(m);
    expect(store.description).toBe(`checkpoints in redis hash ${run}:dur:checkpoints (Redis ${durabilityNote(m.durability)})`);
    expect(store.description).toMatch(aof === "yes" ? /appendfsync/ : /restart loses every checkpoint|RDB snapshots only/);
    await store.close();
    const err = await RedisCheckpointMedium.connect({ redis: "redis://127.0.0.1:1", prefix: "x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toMatch(/cannot connect to Redis for checkpoints \(redis:\/\/127\.0\.0\.1:1/);
  });
});
