/**
 * Streaming sources bench: events/s read through Freshet's NATS JetStream and
 * Redis Streams sources, next to the raw clients reading the same messages in
 * the same run.
 *
 *   npx tsx bench/streamSources.ts                 # 200,000 events, 3 runs
 *   npx tsx bench/streamSources.ts --n=50000 --runs=5
 *   FRESHET_BENCH_N=1000000 npx tsx bench/streamSources.ts
 *
 * Needs nats-server -js on 127.0.0.1:4222 and Redis on 127.0.0.1:6379
 * (override with NATS_URL / REDIS_URL). Setup (untimed): N small JSON
 * flight-like events (~130 bytes) are published once to a fresh JetStream
 * stream and XADDed once to a fresh Redis stream (field "data"); both are
 * deleted at the end.
 *
 * Timed, each side reading all N and JSON-decoding every payload:
 * - NATS, Freshet: natsSource (durable pull consumer, AckPolicy.All), next(10,000)
 *   in a loop, commit every 50,000 rows (as a job checkpointing that often).
 * - NATS, raw: a durable pull consumer with the same ack policy read by the
 *   client's consume() loop (its high-throughput API), one ack every 50,000.
 * - Redis, Freshet: redisStreamSource (new group per run), next(10,000), commit
 *   (XACK of every id) every 50,000.
 * - Redis, raw XREAD: XREAD COUNT 10,000 from the last id, no group.
 * - Redis, raw XREADGROUP: the same work as the source does on the server
 *   (group read, XACK of every id every 50,000), written by hand.
 * Sides alternate within a run; the median of the runs is printed, and each
 * ratio also per run (both sides of a run share the machine's load then).
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, nanos } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { natsSource } from "../src/sources/nats/natsSource.js";
import { redisStreamSource } from "../src/sources/redisStreams/redisStreamSource.js";
import { StreamDecodeFailure, type StreamSource } from "../src/sources/stream/streamSource.js";
import { fullGc, numberArg, median } from "./benchArgs.js";

const N = numberArg("n") ?? Number(process.env.FRESHET_BENCH_N ?? 200_000);
const RUNS = numberArg("runs") ?? 3;
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const READ = 10_000;
const COMMIT_EVERY = 50_000;
const CARRIERS = ["AA", "DL", "UA", "WN", "B6", "AS"];
const AIRPORTS = ["SFO", "LAX", "JFK", "ORD", "ATL", "SEA", "DEN", "BOS"];

function event(i: number): string {
  return JSON.stringify({
    id: i,
    carrier: CARRIERS[i % CARRIERS.length],
    origin: AIRPORTS[i % AIRPORTS.length],
    dest: AIRPORTS[(i * 7 + 3) % AIRPORTS.length],
    delay: (i * 37) % 180 - 30,
    distance: 200 + ((i * 131) % 2_400),
    ts: new Date(Date.UTC(2024, 0, 1) + i * 1_000).toISOString(),
  });
}

/** Reads N rows through a source, committing every COMMIT_EVERY; checks the last id. */
async function readSource(src: StreamSource): Promise<void> {
  await src.open(undefined);
  let n = 0;
  let sinceCommit = 0;
  let last: unknown;
  while (n < N) {
    const b = await src.next(READ, 1_000);
    if (b.rows.length === 0) throw new Error(`${src.kind}: stalled after ${n} of ${N}`);
    n += b.rows.length;
    sinceCommit += b.rows.length;
    last = b.rows[b.rows.length - 1];
    if (sinceCommit >= COMMIT_EVERY || n >= N) {
      await src.commit(b.position);
      sinceCommit = 0;
    }
  }
  if (last instanceof StreamDecodeFailure || (last as { id?: unknown }).id !== N - 1) throw new Error(`${src.kind}: last row is not event ${N - 1}`);
  await src.close();
}

async function main(): Promise<void> {
  console.log(`stream sources bench: ${N.toLocaleString("en-US")} events, ${RUNS} runs, Node ${process.version}`);
  const tag = `freshet_bench_${process.pid}`;
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const redis = new Redis(REDIS_URL);
  const stream = tag;
  const key = `freshet-bench-${process.pid}`;
  try {
    // ---- setup: publish N events to both (untimed for the read figures; rates printed) ----
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
    let t = performance.now();
    for (let i = 0; i < N; i += 1_000) {
      const acks: Array<Promise<unknown>> = [];
      for (let j = i; j < Math.min(N, i + 1_000); j++) acks.push(js.publish(`${stream}.flights`, event(j)));
      await Promise.all(acks);
    }
    const natsPublish = N / ((performance.now() - t) / 1_000);
    t = performance.now();
    for (let i = 0; i < N; i += 5_000) {
      const p = redis.pipeline();
      for (let j = i; j < Math.min(N, i + 5_000); j++) p.xadd(key, "*", "data", event(j));
      await p.exec();
    }
    const redisPublish = N / ((performance.now() - t) / 1_000);
    console.log(`published: JetStream ${fmt(natsPublish)} events/s (acked publishes, 1,000 in flight), Redis ${fmt(redisPublish)} events/s (pipelined XADD)`);

    const sides: Record<string, number[]> = {};
    const time = async (name: string, fn: () => Promise<void>): Promise<void> => {
      fullGc();
      await new Promise((r) => setTimeout(r, 200));
      const t0 = performance.now();
      await fn();
      (sides[name] ??= []).push(N / ((performance.now() - t0) / 1_000));
    };

    for (let run = 0; run < RUNS; run++) {
      const order: Array<[string, () => Promise<void>]> = [
        ["nats freshet", () => readSource(natsSource({ servers: NATS_URL, stream, durable: "bench_freshet" }))],
        ["nats raw consume", () => rawNats()],
        ["redis freshet", () => readSource(redisStreamSource({ url: REDIS_URL, stream: key, group: `freshet-${run}`, consumer: "c" }))],
        ["redis raw XREAD", () => rawXread()],
        ["redis raw XREADGROUP", () => rawXreadgroup(`raw-${run}`)],
      ];
      if (run % 2 === 1) order.reverse();
      for (const [name, fn] of order) await time(name, fn);
    }

    const med = (name: string): number => median(sides[name] ?? []);
    console.log("");
    console.log("side                     events/s (median)   runs");
    for (const name of Object.keys(sides)) console.log(`${name.padEnd(24)} ${fmt(med(name)).padStart(17)}   ${(sides[name] ?? []).map(fmt).join(", ")}`);
    console.log("");
    // Both sides of a pair ran within the same run, under the same load: the per-run ratio is the steadier figure.
    const ratio = (label: string, a: string, b: string): void => {
      const per = (sides[a] ?? []).map((x, i) => x / (sides[b]?.[i] ?? Number.NaN));
      console.log(`${label.padEnd(31)} ${(med(a) / med(b)).toFixed(2)} of medians; per run ${per.map((r) => r.toFixed(2)).join(", ")} (median ${median(per).toFixed(2)})`);
    };
    ratio("NATS  freshet / raw consume:", "nats freshet", "nats raw consume");
    ratio("Redis freshet / raw XREAD:", "redis freshet", "redis raw XREAD");
    ratio("Redis freshet / raw XREADGROUP:", "redis freshet", "redis raw XREADGROUP");
  } finally {
    await jsm.streams.delete(stream).catch(() => false);
    await redis.del(key);
    redis.disconnect();
    await nc.close();
  }

  async function rawNats(): Promise<void> {
    const durable = "bench_raw";
    await jsm.consumers.delete(stream, durable).catch(() => false);
    await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.All, ack_wait: nanos(3_600_000), max_ack_pending: -1, deliver_policy: DeliverPolicy.All });
    const consumer = await js.consumers.get(stream, durable);
    const messages = await consumer.consume({ max_messages: 1_000 });
    let n = 0;
    let last: unknown;
    for await (const m of messages) {
      last = JSON.parse(m.string());
      n++;
      if (n % COMMIT_EVERY === 0 || n === N) await m.ackAck();
      if (n === N) break;
    }
    await messages.close();
    if ((last as { id?: unknown }).id !== N - 1) throw new Error("raw NATS: wrong last row");
  }

  async function rawXread(): Promise<void> {
    const reader = new Redis(REDIS_URL);
    let id = "0-0";
    let n = 0;
    let last: unknown;
    while (n < N) {
      const reply = (await reader.xread("COUNT", READ, "STREAMS", key, id)) as Array<[string, Array<[string, string[]]>]> | null;
      const entries = reply?.[0]?.[1] ?? [];
      for (const [, fields] of entries) last = JSON.parse(fields[1] as string);
      n += entries.length;
      id = entries[entries.length - 1]?.[0] ?? id;
    }
    reader.disconnect();
    if ((last as { id?: unknown }).id !== N - 1) throw new Error("raw XREAD: wrong last row");
  }

  async function rawXreadgroup(group: string): Promise<void> {
    const reader = new Redis(REDIS_URL);
    await reader.xgroup("CREATE", key, group, "0");
    let n = 0;
    let last: unknown;
    let toAck: string[] = [];
    while (n < N) {
      const reply = (await reader.xreadgroup("GROUP", group, "c", "COUNT", READ, "STREAMS", key, ">")) as Array<[string, Array<[string, string[]]>]> | null;
      const entries = reply?.[0]?.[1] ?? [];
      for (const [entryId, fields] of entries) {
        last = JSON.parse(fields[1] as string);
        toAck.push(entryId);
      }
      n += entries.length;
      if (toAck.length >= COMMIT_EVERY || n >= N) {
        const p = reader.pipeline();
        for (let i = 0; i < toAck.length; i += 10_000) p.xack(key, group, ...toAck.slice(i, i + 10_000));
        await p.exec();
        toAck = [];
      }
    }
    reader.disconnect();
    if ((last as { id?: unknown }).id !== N - 1) throw new Error("raw XREADGROUP: wrong last row");
  }
}


function fmt(x: number): string {
  return Math.round(x).toLocaleString("en-US");
}

await main();
