/**
 * The Redis Streams source against the real Redis (127.0.0.1:6379). Each
 * fixture uses its own stream key, deleted afterwards.
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DefinitionError, SourceError } from "../src/errors.js";
import { redisStreamSource, type RedisStreamSourceOptions } from "../src/sources/redisStreams/redisStreamSource.js";
import { StreamDecodeFailure, type StreamSource } from "../src/sources/stream/streamSource.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";
import { readN, streamSourceConformance, testRows, type TestRow } from "./streamSource.conformance.js";

const redisUp = await serviceAvailable("redis");

let run = 0;
const unique = (): string => `freshet-test-rs-${process.pid}-${Date.now()}-${run++}`;

describe.skipIf(!redisUp)("Redis Streams source", () => {
  const redis = new Redis(SERVICES.redis.url);
  const keys: string[] = [];
  const sources: StreamSource[] = [];

  afterEach(async () => {
    for (const s of sources.splice(0)) await s.close();
    const used = keys.splice(0);
    if (used.length > 0) await redis.del(...used);
  });
  afterAll(() => {
    redis.disconnect();
  });

  async function produce(key: string, payloads: readonly string[]): Promise<string[]> {
    const p = redis.pipeline();
    for (const payload of payloads) p.xadd(key, "*", "data", payload);
    return ((await p.exec()) ?? []).map(([err, id]) => {
      if (err !== null) throw err;
      return String(id);
    });
  }

  function newKey(): string {
    const key = unique();
    keys.push(key);
    return key;
  }

  function source(stream: string, more: Partial<RedisStreamSourceOptions> = {}): StreamSource {
    const s = redisStreamSource({ url: SERVICES.redis.url, stream, group: "job", consumer: "worker-1", ...more });
    sources.push(s);
    return s;
  }

  /** This consumer's pending (delivered, unacknowledged) entry ids. */
  async function pending(key: string, consumer = "worker-1"): Promise<string[]> {
    const reply = (await redis.call("XPENDING", key, "job", "-", "+", 1000, consumer)) as Array<[string]>;
    return reply.map((p) => p[0]);
  }

  const ids = (rows: readonly unknown[]): number[] => rows.map((r) => (r as TestRow).id);

  streamSourceConformance("Redis Streams", {
    systemName: /Redis/,
    async fixture() {
      const key = unique();
      const options: RedisStreamSourceOptions = { url: SERVICES.redis.url, stream: key, group: "job", consumer: "worker-1", batch: 500 };
      /** The entry ids of what the case produced, in order. */
      const entryIds: string[] = [];
      return {
        source: () => redisStreamSource(options),
        produce: async (rows) => {
          entryIds.push(...(await produce(key, rows.map((r) => JSON.stringify(r)))));
        },
        produceRaw: async (payload) => {
          entryIds.push(...(await produce(key, [payload])));
        },
        childSource: { factory: "redisStreamSource", module: "../src/sources/redisStreams/redisStreamSource.ts", options },
        positionAfter: (n) => entryIds[n - 1]!,
        afterCrash: async (read) => {
          // The entries the dead reader took are pending for its consumer, and no others.
          expect(await pending(key)).toEqual(entryIds.slice(0, read));
        },
        teardown: async () => {
          await redis.del(key);
        },
      };
    },
    unreachable: () => redisStreamSource({ url: "redis://127.0.0.1:6399", stream: "s", group: "g", consumer: "c" }),
  });

  it("after a crash before commit, reopening from the checkpointed position loses and duplicates nothing", async () => {
    const key = newKey();
    const entryIds = await produce(key, testRows(40).map((r) => JSON.stringify(r)));
    const first = source(key);
    await first.open(undefined);
    const checkpointed = await readN(first, 12, 5);
    expect(checkpointed.position).toBe(entryIds[11]);
    const lost = await readN(first, 9, 9); // read on, never committed: the process dies here
    expect(ids(lost.rows)).toEqual([12, 13, 14, 15, 16, 17, 18, 19, 20]);
    await first.close();
    expect(await pending(key)).toEqual(entryIds.slice(0, 21));

    const again = source(key);
    await again.open(checkpointed.position);
    // The 12 checkpointed entries are acknowledged at open; the 9 read after the checkpoint come again.
    expect(await pending(key)).toEqual(entryIds.slice(12, 21));
    expect(await again.lag()).toBe(28);
    const { rows, position } = await readN(again, 28, 10);
    expect(ids(rows)).toEqual(Array.from({ length: 28 }, (_, i) => 12 + i));
    expect(position).toBe(entryIds[39]);
    expect((await again.next(10, 100)).rows).toEqual([]);
    await again.commit(position ?? "");
    expect(await pending(key)).toEqual([]);
    expect(again.stats()).toEqual({ read: 28, committed: 28 });
    expect(await again.lag()).toBe(0);
  });

  it("moves a pending entry of another consumer of the group after the position to this reader", async () => {
    const key = newKey();
    const entryIds = await produce(key, testRows(6).map((r) => JSON.stringify(r)));
    const old = source(key, { consumer: "worker-old" });
    await old.open(undefined);
    await readN(old, 4, 4);
    await old.close();
    const s = source(key);
    await s.open(entryIds[1]);
    expect(ids((await readN(s, 4)).rows)).toEqual([2, 3, 4, 5]);
    expect(await pending(key, "worker-old")).toEqual(entryIds.slice(0, 2));
    expect(await pending(key)).toEqual(entryIds.slice(2));
  });

  it("after a failed read, delivers again what Redis delivered but the reader never saw", async () => {
    const key = newKey();
    await produce(key, testRows(3).map((r) => JSON.stringify(r)));
    const s = source(key);
    await s.open(undefined);
    expect(ids((await readN(s, 3, 3)).rows)).toEqual([0, 1, 2]);
    // The connection drops while XREADGROUP waits...
    const waiting = s.next(10, 5_000).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    const list = String(await redis.call("CLIENT", "LIST"));
    const readerId = /id=(\d+) [^\n]*name=freshet:job:worker-1:read/.exec(list)?.[1];
    expect(readerId).toBeDefined();
    await redis.call("CLIENT", "KILL", "ID", readerId ?? "");
    const err = await waiting;
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toMatch(/^Redis at 127\.0\.0\.1:6379 failed to read stream/);
    // ...and Redis had handed it entries whose reply was lost (played here by a read under its name).
    await produce(key, testRows(7, 3).map((r) => JSON.stringify(r)));
    await redis.call("XREADGROUP", "GROUP", "job", "worker-1", "COUNT", 4, "STREAMS", key, ">");
    let rest: unknown[] = [];
    for (let i = 0; i < 20 && rest.length < 7; i++) {
      try {
        rest = [...rest, ...(await s.next(10, 100)).rows];
      } catch {
        await new Promise((r) => setTimeout(r, 100)); // reconnecting
      }
    }
    expect(ids(rest)).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });

  it("commit acknowledges exactly the entries up to the position, once", async () => {
    const key = newKey();
    const entryIds = await produce(key, testRows(10).map((r) => JSON.stringify(r)));
    const s = source(key);
    await s.open(undefined);
    const a = await s.next(4, 0);
    const b = await s.next(4, 0);
    await s.commit(a.position);
    expect(await pending(key)).toEqual(entryIds.slice(4, 8));
    expect(s.stats().committed).toBe(4);
    await s.commit(b.position);
    await s.commit(a.position);
    expect(await pending(key)).toEqual([]);
    expect(s.stats()).toEqual({ read: 8, committed: 8 });
    await expect(s.commit(7)).rejects.toThrow(/positions are entry ids/);
  });

  it('reads entries as field/value rows with format: "fields" (text values)', async () => {
    const key = newKey();
    await redis.xadd(key, "*", "id", "1", "user", "u1", "amount", "12.5");
    await redis.xadd(key, "*", "id", "2", "user", "u2", "amount", "3");
    const s = source(key, { format: "fields" });
    expect(s.text).toBe(true);
    await s.open(undefined);
    expect((await readN(s, 2)).rows).toEqual([
      { id: "1", user: "u1", amount: "12.5" },
      { id: "2", user: "u2", amount: "3" },
    ]);
  });

  it("reads the JSON of another field, names the entry id of a failure, and uses a custom decoder", async () => {
    const key = newKey();
    const a = await redis.xadd(key, "*", "payload", '{"id":1}');
    const b = await redis.xadd(key, "*", "other", "x");
    const c = await redis.xadd(key, "*", "payload", "not json");
    const s = source(key, { field: "payload" });
    await s.open(undefined);
    const { rows } = await readN(s, 3);
    expect(rows[0]).toEqual({ id: 1 });
    expect(rows[1]).toBeInstanceOf(StreamDecodeFailure);
    expect(rows[1]).toMatchObject({ reason: 'entry has no field "payload"', at: b, raw: '["other","x"]' });
    expect(rows[2]).toMatchObject({ at: c, raw: "not json" });
    const custom = source(key, { group: "custom", field: "payload", decode: (p) => ({ text: p }) });
    await custom.open(a);
    expect((await readN(custom, 2)).rows[1]).toEqual({ text: "not json" });
  });

  it("start: new reads only entries added after open; groups read a stream independently", async () => {
    const key = newKey();
    await produce(key, testRows(3).map((r) => JSON.stringify(r)));
    const fresh = source(key, { start: "new" });
    await fresh.open(undefined);
    expect(await fresh.lag()).toBe(0);
    expect((await fresh.next(10, 100)).rows).toEqual([]);
    const [added] = await produce(key, [JSON.stringify({ id: 3 })]);
    const b = await readN(fresh, 1);
    expect(b).toEqual({ rows: [{ id: 3 }], position: added });
    const other = source(key, { group: "other" });
    await other.open(undefined);
    expect(ids((await readN(other, 4)).rows)).toEqual([0, 1, 2, 3]);
  });

  it("creates a missing stream and group, and rejects positions that are not entry ids", async () => {
    const key = newKey();
    const s = source(key);
    await s.open(undefined);
    expect(await redis.exists(key)).toBe(1);
    expect(await s.next(5, 50)).toEqual({ rows: [], position: "0-0" });
    await expect(s.open(12)).rejects.toThrow(/entry id like/);
    await expect(source(key).next(1, 0)).rejects.toThrow(/before open/);
  });

  it("rejects bad options with a DefinitionError naming the field", () => {
    const fieldOf = (o: Partial<RedisStreamSourceOptions>): string | undefined => {
      try {
        redisStreamSource({ url: SERVICES.redis.url, stream: "s", group: "g", consumer: "c", ...o } as RedisStreamSourceOptions);
        return undefined;
      } catch (e) {
        expect(e).toBeInstanceOf(DefinitionError);
        return (e as DefinitionError).details.field;
      }
    };
    expect(fieldOf({ url: "127.0.0.1:6379" })).toBe("url");
    expect(fieldOf({ url: "http://127.0.0.1" })).toBe("url");
    expect(fieldOf({ stream: "" })).toBe("stream");
    expect(fieldOf({ group: "" })).toBe("group");
    expect(fieldOf({ consumer: undefined as unknown as string })).toBe("consumer");
    expect(fieldOf({ format: "fields", field: "data" })).toBe("field");
    expect(fieldOf({ format: "xml" as "json" })).toBe("format");
    expect(fieldOf({ batch: 1.5 })).toBe("batch");
    expect(fieldOf({ start: "last" as "new" })).toBe("start");
    expect(fieldOf({})).toBeUndefined();
    expect(redisStreamSource({ url: "redis://u:secret@10.0.0.5:6380/2", stream: "s", group: "g", consumer: "c" }).description).toBe(
      "Redis 10.0.0.5:6380/2 stream s (group g, consumer c)",
    );
  });
});
