/**
 * Online store writes bench: rows/s written in "write" order (last write wins)
 * next to "event-time" order (compare (eventTime, epoch) with the stored cell,
 * then set), for LMDB and Redis, in the same run.
 *
 *   npx tsx bench/onlineWrites.ts                 # 10,000 keys x 5 features, batches of 500, 5 runs
 *   npx tsx bench/onlineWrites.ts --keys=50000 --runs=3
 *
 * Needs Redis on 127.0.0.1:6379 (override with REDIS_URL); LMDB goes to a
 * temporary directory. Each side writes into a namespace of its own, seeded
 * (untimed) with every key, so every timed write lands on stored cells as in
 * a running job. Timed, per side: every key once, in batches awaited one
 * after another (as a job's sink does):
 * - "write": the plain order (LMDB: one transaction; Redis: one MULTI of HSET + PERSIST per row).
 * - "event-time": every write newer than what is stored, so all applied (the live case).
 * - "event-time, ignored": every write older, so nothing changes (a replay after a
 *   crash over values already written); shown for reference, not in the ratio.
 * Sides rotate within a run; the median of the runs is printed. The ratio
 * (event-time / write) is taken per run, since both sides of a run share the
 * machine's load, and printed as the median of those and each one.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LmdbOnlineStore } from "../src/stores/online/lmdbOnlineStore.js";
import type { OnlineStore, OnlineWrite, WriteOptions } from "../src/stores/online/onlineStore.js";
import { RedisOnlineStore } from "../src/stores/online/redisOnlineStore.js";
import { fullGc, numberArg, median } from "./benchArgs.js";

const KEYS = numberArg("keys") ?? 10_000;
const BATCH = numberArg("batch") ?? 500;
const RUNS = numberArg("runs") ?? 5;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const T = 1_700_000_000_000;

type Side = "write" | "event-time" | "event-time, ignored";
const SIDES: readonly Side[] = ["write", "event-time", "event-time, ignored"];

/** Five features of mixed kinds, as a feature view holds them. */
function row(i: number, eventTime: number, epoch: number): OnlineWrite {
  return {
    key: `user-${i}`,
    features: { clicks_1h: i % 97, spend_7d: (i % 1000) * 1.25, country: i % 2 === 0 ? "NL" : "FR", last_items: [i % 13, i % 17, i % 19], premium: i % 5 === 0 },
    eventTime,
    epoch,
  };
}

function batches(eventTime: number, epoch: number): OnlineWrite[][] {
  const out: OnlineWrite[][] = [];
  for (let start = 0; start < KEYS; start += BATCH) {
    out.push(Array.from({ length: Math.min(BATCH, KEYS - start) }, (_, j) => row(start + j, eventTime, epoch)));
  }
  return out;
}

/** Seeds each side's namespace at event time T + 1,000 (epoch 1), untimed. */
async function seed(store: OnlineStore, namespace: string): Promise<void> {
  for (const rows of batches(T + 1_000, 1)) await store.write(namespace, rows, { now: T });
}

/** Writes every key once as `side` does; returns rows/s. Rows are built before the clock starts. */
async function timed(store: OnlineStore, namespace: string, side: Side, run: number): Promise<number> {
  const now = T + 10_000 + run;
  // Newer than the seed (applied) for the first two sides, older (ignored) for the third.
  const all = side === "event-time, ignored" ? batches(T, 0) : batches(T + 2_000 + run, 1);
  const options: WriteOptions = side === "write" ? { now } : { now, order: "event-time" };
  fullGc();
  const start = performance.now();
  for (const rows of all) await store.write(namespace, rows, options);
  const seconds = (performance.now() - start) / 1000;
  return KEYS / seconds;
}


const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

async function bench(name: string, store: OnlineStore): Promise<string[]> {
  const id = `bench-online-writes-${process.pid}`;
  const namespaces = new Map(SIDES.map((side) => [side, `${id}-${side.replace(/[^a-z]+/g, "-")}`]));
  for (const namespace of namespaces.values()) await seed(store, namespace);
  const rates = new Map<Side, number[]>(SIDES.map((side) => [side, []]));
  const ratios: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    // Rotate which side goes first, so neither always runs on a warmer (or more loaded) store.
    const order = SIDES.map((_, i) => SIDES[(i + run) % SIDES.length] ?? "write");
    const thisRun = new Map<Side, number>();
    for (const side of order) {
      const rate = await timed(store, namespaces.get(side) ?? id, side, run);
      thisRun.set(side, rate);
      rates.get(side)?.push(rate);
    }
    ratios.push((thisRun.get("event-time") ?? 0) / (thisRun.get("write") ?? 1));
  }
  for (const namespace of namespaces.values()) await store.dropNamespace(namespace);
  const write = median(rates.get("write") ?? []);
  const eventTime = median(rates.get("event-time") ?? []);
  const ignored = median(rates.get("event-time, ignored") ?? []);
  return [
    name.padEnd(6),
    fmt(write).padStart(14),
    fmt(eventTime).padStart(19),
    median(ratios).toFixed(2).padStart(6),
    ratios.map((r) => r.toFixed(2)).join(" ").padEnd(RUNS * 5 + 1),
    fmt(ignored).padStart(20),
  ];
}

console.log(`online store writes: ${KEYS.toLocaleString("en-US")} keys x 5 features, batches of ${BATCH}, median of ${RUNS} runs (rows/s; a row is one key's 5 features)`);
console.log(
  ["store ", '"write" rows/s'.padStart(14), '"event-time" rows/s'.padStart(19), " ratio", "per run".padEnd(RUNS * 5 + 1), "event-time, ignored".padStart(20)].join("  "),
);
const dir = await mkdtemp(join(tmpdir(), "freshet-bench-online-"));
try {
  const lmdb = LmdbOnlineStore.open(join(dir, "online"));
  try {
    console.log((await bench("lmdb", lmdb)).join("  "));
  } finally {
    await lmdb.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
const redis = await RedisOnlineStore.connect(REDIS_URL, { prefix: `freshet-bench-${process.pid}` });
try {
  console.log((await bench("redis", redis)).join("  "));
} finally {
  await redis.close();
}
