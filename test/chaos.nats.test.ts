/**
 * Chaos test (issue 6): `freshet run` consumes a NATS JetStream stream of
 * 1M events into count/sum/min/max/distinct tables in tumbling and sliding
 * windows, and is killed with SIGKILL at least 10 times, some of them while
 * it writes a checkpoint, and restarted. When the stream is drained, every
 * online value equals the offline recomputation of the same events, and
 * accepted + dead-lettered = produced.
 *
 * The same with the checkpoints in Redis (`freshet run --state redis://...`)
 * over 200k events and 6 kills, some of them as the job sends a checkpoint's
 * transaction (seen with MONITOR).
 *
 * FRESHET_CHAOS_EVENTS and FRESHET_CHAOS_KILLS change the size of the first;
 * the longer variant is `npm run bench:chaos`.
 */
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, watch } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FeatureStore } from "../src/featureStore/featureStore.js";
import { CHAOS_T0, chaosEvents, chaosPayload, chaosSliding, chaosTumbling } from "./fixtures/chaosPipeline.js";
import { monitorRedis } from "./helpers/redisMonitor.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";

const N = Number(process.env.FRESHET_CHAOS_EVENTS ?? 1_000_000);
const KILLS = Number(process.env.FRESHET_CHAOS_KILLS ?? 10);
const natsUp = await serviceAvailable("nats");
const redisUp = await serviceAvailable("redis");

/** Where a run keeps its checkpoints, and how to kill it while it writes one. */
interface Variant {
  readonly name: string;
  readonly events: number;
  readonly kills: number;
  readonly skip: boolean;
  /** Extra `freshet run` arguments. */
  readonly args: (dir: string) => string[];
  /** What `FeatureStore.open` takes to read what the job left. */
  readonly state: (dir: string) => "checkpoints" | { redis: string; prefix: string };
  /** Resolves once the job has started writing a checkpoint (then it is killed). */
  readonly checkpointWriteStarted: (dir: string) => Promise<void>;
  /** After a kill: whether the checkpoint in flight was left half-done (files: its temporary file). */
  readonly leftHalfWritten: (dir: string) => boolean;
  readonly cleanup: () => Promise<void>;
}

const redisPrefix = `freshet-test:chaos:${process.pid}`;
const variants: Variant[] = [
  {
    name: "checkpoint files",
    events: N,
    kills: KILLS,
    skip: !natsUp,
    args: () => [],
    state: () => "checkpoints",
    checkpointWriteStarted: (dir) => {
      // As a checkpoint file is being written: when its temporary file appears.
      const ckpt = join(dir, "checkpoints");
      return new Promise<void>((resolve) => {
        const w = watch(ckpt, (_e, name) => {
          if (name?.endsWith(".ckpt.tmp") === true && existsSync(join(ckpt, name))) {
            w.close();
            resolve();
          }
        });
      });
    },
    leftHalfWritten: (dir) => readdirSync(join(dir, "checkpoints")).some((f) => f.endsWith(".ckpt.tmp")),
    cleanup: async () => {},
  },
  {
    name: "checkpoints in Redis",
    events: 200_000,
    kills: 6,
    skip: !natsUp || !redisUp,
    args: () => ["--state", SERVICES.redis.url, "--state-prefix", redisPrefix],
    state: () => ({ redis: SERVICES.redis.url, prefix: redisPrefix }),
    // As the job sends a checkpoint's MULTI/EXEC: when Redis sees its HSET.
    checkpointWriteStarted: () =>
      new Promise<void>((resolve, reject) => {
        const seen = (args: string[]): boolean => args[0]?.toLowerCase() === "hset" && args[1] === `${redisPrefix}:checkpoints`;
        const onCommand = (args: string[]): boolean => {
          if (!seen(args)) return false;
          resolve();
          return true;
        };
        monitorRedis(SERVICES.redis.host, SERVICES.redis.port, onCommand).catch(reject);
      }),
    leftHalfWritten: () => false,
    cleanup: async () => {
      const r = new Redis(SERVICES.redis.url);
      await r.del(`${redisPrefix}:checkpoints`, `${redisPrefix}:corrupt`);
      r.disconnect();
    },
  },
];

/** A `freshet run` child, with the moment it said it was running. */
interface Job {
  readonly child: ChildProcess;
  readonly ready: Promise<number>;
  readonly exited: Promise<number | null>;
  output: string;
}

function startJob(dir: string, stream: string, extra: readonly string[]): Job {
  const spawned = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "run", "test/fixtures/chaosPipeline.ts", "--dir", dir, "--no-serve", "--checkpoint-every", "100ms", ...extra], {
    env: { ...process.env, CHAOS_STREAM: stream, CHAOS_NATS: SERVICES.nats.url },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const job: Job = {
    child,
    output: "",
    ready: new Promise((resolve, reject) => {
      child.stderr?.on("data", (d: Buffer) => {
        job.output += d.toString();
        if (job.output.includes("freshet job running")) resolve(performance.now() - spawned);
      });
      child.once("exit", () => reject(new Error(`the job exited before running:\n${job.output}`)));
    }),
    exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
  };
  job.ready.catch(() => {});
  return job;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(variants)("chaos: SIGKILL during a NATS JetStream job, $name", (v) => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const N = v.events;
  const KILLS = v.kills;
  const stream = `freshet_chaos_${process.pid}_${v.kills}`;
  const subject = `${stream}.events`;
  const dir = mkdtempSync(join(tmpdir(), "freshet-chaos-"));

  beforeAll(async () => {
    if (v.skip) return;
    nc = await connect({ servers: SERVICES.nats.url });
    jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => false);
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
    // Core publishes (no ack per message), flushed in chunks; the stream's count is checked below.
    for (let i = 0; i < N; i++) {
      nc.publish(subject, chaosPayload(i));
      if (i % 20_000 === 19_999) await nc.flush();
    }
    await nc.flush();
  }, 120_000);

  afterAll(async () => {
    await jsm?.streams.delete(stream).catch(() => false);
    await nc?.close();
    rmSync(dir, { recursive: true, force: true });
    if (!v.skip) await v.cleanup();
  });

  it.skipIf(v.skip)(`survives ${KILLS} SIGKILLs over ${N.toLocaleString("en-US")} events with exact values and counts`, async () => {
    expect((await jsm.streams.info(stream)).state.messages).toBe(N);
    const restartMs: number[] = [];
    let duringCheckpoint = 0;
    for (let k = 0; k < KILLS; k++) {
      const job = startJob(dir, stream, v.args(dir));
      restartMs.push(await job.ready);
      if (k % 2 === 1) {
        await v.checkpointWriteStarted(dir);
        job.child.kill("SIGKILL");
      } else {
        await sleep(200 + Math.floor(Math.random() * 1_500));
        job.child.kill("SIGKILL");
      }
      await job.exited;
      if (v.leftHalfWritten(dir)) duringCheckpoint++;
    }
    // The last run drains the stream: every message acknowledged, i.e. in a checkpoint.
    const last = startJob(dir, stream, v.args(dir));
    restartMs.push(await last.ready);
    for (;;) {
      const info = await jsm.consumers.info(stream, "chaos_job").catch(() => undefined);
      if (info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq === N) break;
      if (last.child.exitCode !== null || last.child.signalCode !== null) throw new Error(`the draining job exited (${String(last.child.exitCode ?? last.child.signalCode)}):\n${last.output}`);
      await sleep(200);
    }
    last.child.kill("SIGTERM");
    expect(await last.exited, `the draining job's stderr:\n${last.output}`).toBe(0);
    console.log(`chaos (${v.name}): ${KILLS} kills (${duringCheckpoint} left a checkpoint half-written), restart to running: ${restartMs.map((m) => m.toFixed(0)).join(", ")} ms`);
    // A file checkpoint killed mid-write leaves its temporary file; a Redis transaction cannot be left half-done.
    if (v.name === "checkpoint files") expect(duringCheckpoint).toBeGreaterThanOrEqual(1);

    // What the job left in its directory...
    const online = await FeatureStore.open({ dir, state: v.state(dir), clock: "event" });
    await online.apply([chaosEvents, chaosTumbling, chaosSliding]);
    // ...against the same events computed offline in one pass.
    const offline = await FeatureStore.open({ clock: "event" });
    await offline.apply([chaosEvents, chaosTumbling, chaosSliding]);
    const rows: unknown[] = [];
    for (let i = 0; i < N; i++) {
      const p = chaosPayload(i);
      try {
        rows.push(JSON.parse(p));
      } catch {
        rows.push(p); // not JSON: dead-lettered as not a row
      }
    }
    await offline.materializeOffline({ chaos_events: rows }, { onError: "dead-letter" });

    const o = online.stats().datasets.chaos_events;
    const f = offline.stats().datasets.chaos_events;
    expect(o?.accepted).toBe(f?.accepted);
    expect((o?.accepted ?? 0) + (o?.late ?? 0) + (o?.invalid ?? 0)).toBe(N);
    expect(o?.invalid).toBe(f?.invalid);
    expect(o?.invalid).toBeGreaterThan(0);

    const users = Array.from({ length: 500 }, (_, u) => ({ user: `u${u}` }));
    const end = Number(o?.watermark?.getTime());
    // Online reads as of the end (the online state keeps the last few seconds exactly)...
    for (const at of [end, end + 4_000]) {
      for (const table of [chaosTumbling, chaosSliding]) {
        expect(await online.getOnline(table, users, { at })).toEqual(await offline.getOnline(table, users, { at }));
      }
    }
    // ...and point-in-time reads over the whole run, from the history the job recorded across the crashes.
    const entity = Array.from({ length: 2_000 }, (_, i) => ({ user: `u${(i * 7) % 500}`, ts: CHAOS_T0 + Math.floor(((i + 1) / 2_000) * N * 10) }));
    for (const table of [chaosTumbling, chaosSliding]) {
      expect(await online.getHistorical(table, entity)).toEqual(await offline.getHistorical(table, entity));
    }
    expect((await online.getOnline(chaosSliding, users, { at: end })).reduce((s, r) => s + r.n, 0)).toBeGreaterThan(0);
    await online.close();
    await offline.close();
  }, 900_000);
});
