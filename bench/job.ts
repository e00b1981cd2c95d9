/**
 * The online job on NATS JetStream (issue 6): the flights pipeline fed from
 * a JetStream stream of real flights, side by side in one run with the same
 * rows pushed from memory (the job's ceiling), and the time from a SIGKILL
 * to serving again; each with checkpoint files and with the checkpoints in
 * Redis (BENCH_REDIS, default redis://127.0.0.1:6379).
 *
 *   npm run bench:job                      # 1M flights, 3 restarts
 *   npm run bench:job -- --rows=300000 --restarts=5
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { Redis } from "ioredis";
import { FeatureStore, OnlineJob, type OpenOptions } from "../src/index.js";
import { natsSource } from "../src/sources/nats/natsSource.js";
import { fullGc, numberArg } from "./benchArgs.js";
import { createFlightsTable, readFlightsTable } from "./flightsData.js";
import { airportDelays, flights } from "./flightsPipeline.js";

const ROWS = Math.floor(numberArg("rows") ?? 1_000_000);
const RESTARTS = Math.floor(numberArg("restarts") ?? 3);
const BATCH = 10_000;
const NATS = process.env.BENCH_NATS ?? "nats://127.0.0.1:4222";
const REDIS = process.env.BENCH_REDIS ?? "redis://127.0.0.1:6379";
const REDIS_PREFIX = `freshet-bench-job:${process.pid}`;
const STREAM = `freshet_bench_job_${process.pid}`;

const rate = (n: number, ms: number): string => `${Math.round((n * 1_000) / ms).toLocaleString("en-US")} events/s`;

const duck = await (await DuckDBInstance.create(":memory:")).connect();
await createFlightsTable(duck, "f", { limit: ROWS });
const rows = await readFlightsTable(duck, "f");
duck.closeSync();
console.log(`${rows.length.toLocaleString("en-US")} flights from vega-datasets flights-3m.parquet`);

const nc = await connect({ servers: NATS });
const jsm = await jetstreamManager(nc);
await jsm.streams.add({ name: STREAM, subjects: [`${STREAM}.>`] });
try {
  let t = performance.now();
  for (let i = 0; i < rows.length; i++) {
    nc.publish(`${STREAM}.flights`, JSON.stringify(rows[i]));
    if (i % 20_000 === 19_999) await nc.flush();
  }
  await nc.flush();
  const stored = (await jsm.streams.info(STREAM)).state.messages;
  if (stored !== rows.length) throw new Error(`the stream holds ${stored} messages, expected ${rows.length}`);
  console.log(`published to JetStream: ${rate(rows.length, performance.now() - t)}`);

  // Baseline: the same rows (parsed JSON, as the job gets them) pushed from memory in the job's batch size.
  const parsed = rows.map((r) => JSON.parse(JSON.stringify(r)) as unknown);
  fullGc();
  const mem = await FeatureStore.open({ clock: "event" });
  await mem.apply([flights, airportDelays]);
  t = performance.now();
  for (let i = 0; i < parsed.length; i += BATCH) await mem.push("flights", parsed.slice(i, i + BATCH));
  const pushMs = performance.now() - t;
  const check = await mem.getOnline(airportDelays, [{ origin: "ORD" }]);
  await mem.close();

  const runJob = async (dir: string | undefined, durable: string, state: OpenOptions["state"] = "checkpoints"): Promise<{ ms: number; store: FeatureStore; checkpoints: number }> => {
    fullGc();
    const store = await FeatureStore.open({ clock: "event", ...(dir === undefined ? {} : { dir, state }) });
    await store.apply([flights, airportDelays]);
    const start = performance.now();
    const job = await OnlineJob.start(store, [{ dataset: "flights", source: natsSource({ servers: NATS, stream: STREAM, durable }) }], { batchSize: BATCH });
    while ((job.stats().sources[0]?.read ?? 0) < rows.length) await new Promise((r) => setTimeout(r, 5));
    const ms = performance.now() - start;
    await job.stop();
    return { ms, store, checkpoints: job.stats().checkpoints };
  };
  const inMemory = await runJob(undefined, "bench_mem");
  const same = JSON.stringify(await inMemory.store.getOnline(airportDelays, [{ origin: "ORD" }])) === JSON.stringify(check);
  await inMemory.store.close();
  const dir = mkdtempSync(join(tmpdir(), "freshet-bench-job-"));
  const durable = await runJob(dir, "bench_dir");
  await durable.store.close();
  rmSync(dir, { recursive: true, force: true });
  const redisDir = mkdtempSync(join(tmpdir(), "freshet-bench-job-"));
  const inRedis = await runJob(redisDir, "bench_redis", { redis: REDIS, prefix: `${REDIS_PREFIX}:a` });
  await inRedis.store.close();
  rmSync(redisDir, { recursive: true, force: true });

  console.log("");
  console.log("flights pipeline (5 windowed features per origin), one process, 2 cores:");
  console.log(`  push from memory, batches of ${BATCH} (baseline)     ${rate(rows.length, pushMs)}`);
  console.log(`  freshet job from JetStream, in-memory store       ${rate(rows.length, inMemory.ms)}   ${(pushMs / inMemory.ms).toFixed(2)}x the baseline`);
  console.log(`  freshet job from JetStream, --dir (checkpoints)   ${rate(rows.length, durable.ms)}   ${(pushMs / durable.ms).toFixed(2)}x the baseline, ${durable.checkpoints} checkpoints`);
  console.log(`  the same, checkpoints in Redis                    ${rate(rows.length, inRedis.ms)}   ${(pushMs / inRedis.ms).toFixed(2)}x the baseline, ${inRedis.checkpoints} checkpoints`);
  console.log(`  same ORD features as the baseline: ${same}`);

  // Restart to serving after SIGKILL: `freshet run` killed mid-stream, started again on its directory.
  // The built CLI, as `npx freshet run` starts it (built now, so it is this checkout's).
  if (spawnSync("npm", ["run", "build"], { stdio: "ignore" }).status !== 0) throw new Error("npm run build failed");
  const cli = ["dist/cli/main.js"];
  const restartToServing = async (extra: readonly string[]): Promise<number[]> => {
    const runDir = mkdtempSync(join(tmpdir(), "freshet-bench-run-"));
    const times: number[] = [];
    for (let k = 0; k <= RESTARTS; k++) {
      const spawned = performance.now();
      const child = spawn(process.execPath, [...cli, "run", "bench/jobDefinitions.mjs", "--dir", runDir, "--port", "0", ...extra], { env: { ...process.env, BENCH_STREAM: STREAM, BENCH_NATS: NATS }, stdio: ["ignore", "ignore", "pipe"] });
      let out = "";
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /serving on (http:\/\/\S+)/.exec(out);
          if (m?.[1] !== undefined) resolve(m[1]);
        });
        child.once("exit", () => reject(new Error(`freshet run exited:\n${out}`)));
      });
      // Serving = a feature read answered.
      for (;;) {
        const r = await fetch(`${url}/v1/online/airport_delays/ORD`).catch(() => undefined);
        if (r?.ok === true) break;
        await new Promise((res) => setTimeout(res, 5));
      }
      const servedMs = performance.now() - spawned;
      if (k > 0) times.push(servedMs);
      await new Promise((r) => setTimeout(r, 1_500 + Math.random() * 1_000));
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    }
    rmSync(runDir, { recursive: true, force: true });
    return times.sort((a, b) => a - b);
  };
  const summary = (times: readonly number[]): string =>
    `median ${times[times.length >> 1]?.toFixed(0)} ms, min ${times[0]?.toFixed(0)} ms, max ${times[times.length - 1]?.toFixed(0)} ms`;
  const fromFiles = await restartToServing([]);
  const fromRedis = await restartToServing(["--state", REDIS, "--state-prefix", `${REDIS_PREFIX}:b`]);
  console.log("");
  console.log(`restart to serving after SIGKILL (node dist/cli/main.js run, spawn → first feature read answered), ${fromFiles.length} restarts each:`);
  console.log(`  checkpoint files:      ${summary(fromFiles)}`);
  console.log(`  checkpoints in Redis:  ${summary(fromRedis)}`);
} finally {
  const redis = new Redis(REDIS);
  const keys = await redis.keys(`${REDIS_PREFIX}:*`).catch(() => [] as string[]);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await jsm.streams.delete(STREAM).catch(() => false);
  await nc.close();
}
