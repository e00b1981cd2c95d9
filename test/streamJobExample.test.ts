/**
 * examples/stream-job.ts under `freshet run`, one tag per system: the same
 * orders published to a NATS JetStream stream, added to a Redis stream, or
 * inserted into a PostgreSQL or MySQL table (read by polling, or from a
 * private MariaDB's binary log) are consumed, served over HTTP
 * with the values an offline computation of the same orders gives, and a
 * SIGTERM stops the job cleanly (exit 0) with its positions checkpointed.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { createConnection, type RowDataPacket } from "mysql2/promise";
import postgres from "postgres";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FeatureStore } from "../src/featureStore/featureStore.js";
import { RedisOnlineStore } from "../src/stores/online/redisOnlineStore.js";
import { orders, userSpend } from "../examples/stream-job.js";
import { privateMariadbAvailable, startPrivateMariadb } from "./helpers/privateMariadb.js";
import { SERVICES, serviceAvailable, type ServiceName } from "./helpers/services.js";

const T0 = Date.UTC(2024, 2, 1, 12);
const N = 400;
const ORDERS = Array.from({ length: N }, (_, i) => ({ id: i + 1, user: `u${(i * 7) % 10}`, amount: (i % 17) + 0.25, ts: T0 + i * 5_000 }));
const USERS = Array.from({ length: 10 }, (_, u) => ({ user: `u${u}` }));

/** The features as of the job's final watermark, computed offline from the same orders. */
async function expected(): Promise<unknown[]> {
  const s = await FeatureStore.open({ clock: "event" });
  await s.apply([orders, userSpend]);
  await s.materializeOffline({ orders: ORDERS.map(({ user, amount, ts }) => ({ user, amount, ts })) });
  const rows = await s.getOnline(userSpend, USERS, { at: ORDERS[N - 1]!.ts - 10_000 });
  await s.close();
  return rows;
}

/** Puts the orders into the system a tag reads; returns how to clean up. */
const fill: Record<string, (name: string) => Promise<() => Promise<void>>> = {
  async nats(name) {
    const nc = await connect({ servers: SERVICES.nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name, subjects: [`${name}.>`] });
    for (const o of ORDERS) nc.publish(`${name}.new`, JSON.stringify({ user: o.user, amount: o.amount, ts: new Date(o.ts).toISOString() }));
    await nc.flush();
    return async () => {
      await jsm.streams.delete(name).catch(() => false);
      await nc.close();
    };
  },
  async redis(name) {
    const redis = new Redis(SERVICES.redis.url);
    const p = redis.pipeline();
    for (const o of ORDERS) p.xadd(name, "*", "data", JSON.stringify({ user: o.user, amount: o.amount, ts: o.ts }));
    await p.exec();
    return async () => {
      await redis.del(name);
      redis.disconnect();
    };
  },
  async postgres(name) {
    const sql = postgres(SERVICES.postgres.url, { max: 1, onnotice: () => undefined });
    await sql.unsafe(`CREATE TABLE ${name} (id bigint PRIMARY KEY, "user" text NOT NULL, amount double precision NOT NULL, ts timestamptz NOT NULL)`);
    await sql`INSERT INTO ${sql(name)} ${sql(ORDERS.map((o) => ({ ...o, ts: new Date(o.ts) })), "id", "user", "amount", "ts")}`;
    return async () => {
      await sql.unsafe(`DROP TABLE IF EXISTS ${name}`);
      await sql.end();
    };
  },
  async mysql(name) {
    const db = await createConnection(SERVICES.mysql.url);
    await db.query(`CREATE TABLE ${name} (id BIGINT PRIMARY KEY, user VARCHAR(20) NOT NULL, amount DOUBLE NOT NULL, ts DATETIME(3) NOT NULL, INDEX (ts, id))`);
    await db.query(`INSERT INTO ${name} (id, user, amount, ts) VALUES ?`, [ORDERS.map((o) => [o.id, o.user, o.amount, new Date(o.ts)])]);
    return async () => {
      await db.query(`DROP TABLE IF EXISTS ${name}`);
      await db.end();
    };
  },
};

/** Variables a tag's `freshet run` needs (the private server's URL for mysql-binlog). */
const tagEnv: Record<string, Record<string, string>> = {};
fill["mysql-binlog"] = async (name) => {
  const server = await startPrivateMariadb();
  tagEnv["mysql-binlog"] = { FRESHET_MYSQL_BINLOG: server.url };
  const db = await createConnection(server.url);
  const table = `\`${name}\``;
  // Half before the job starts (its snapshot); the rest once the job reads the binlog (a "Binlog Dump" connection shows).
  const rows = ORDERS.map((o) => [o.id, o.user, o.amount, new Date(o.ts)]);
  try {
    await db.query(`CREATE TABLE ${table} (id BIGINT PRIMARY KEY, user VARCHAR(20) NOT NULL, amount DOUBLE NOT NULL, ts DATETIME(3) NOT NULL)`);
    await db.query(`INSERT INTO ${table} (id, user, amount, ts) VALUES ?`, [rows.slice(0, N / 2)]);
  } catch (err) {
    await db.end();
    await server.stop();
    throw err;
  }
  let stop = false;
  const rest = (async () => {
    while (!stop) {
      const [list] = await db.query<RowDataPacket[]>("SHOW PROCESSLIST");
      if (list.some((p) => String(p.Command).startsWith("Binlog Dump"))) {
        for (let i = N / 2; i < N; i += 50) await db.query(`INSERT INTO ${table} (id, user, amount, ts) VALUES ?`, [rows.slice(i, i + 50)]);
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return async () => {
    stop = true;
    await rest;
    await db.end();
    await server.stop();
  };
};

const TAGS = ["nats", "redis", "postgres", "mysql", "mysql-binlog"];
const available: Record<string, boolean> = {};
for (const tag of ["nats", "redis", "postgres", "mysql"] as const) available[tag] = await serviceAvailable(tag as ServiceName);
available["mysql-binlog"] = privateMariadbAvailable();

describe("examples/stream-job.ts under freshet run", () => {
  for (const tag of TAGS) {
    it.skipIf(!available[tag])(`--tag ${tag}: consumes the orders, serves what offline computes, stops cleanly on SIGTERM`, async () => {
      const name = `freshet_example_${tag}_${process.pid}`;
      const cleanup = await fill[tag]!(name);
      const dir = mkdtempSync(join(tmpdir(), `freshet-example-${tag}-`));
      // Sessions in MySQL read DATETIME as local time: the job and the test both run in UTC.
      // The NATS run also exports user_spend to Redis after each checkpoint.
      const prefix = `freshet_example_${process.pid}`;
      const exportEnv = tag === "nats" && available.redis === true ? { EXAMPLE_EXPORT: SERVICES.redis.url, EXAMPLE_REDIS_PREFIX: prefix } : {};
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "run", "examples/stream-job.ts", "--tag", tag, "--dir", dir, "--port", "0"], {
        env: { ...process.env, EXAMPLE_ORDERS: name, TZ: "UTC", ...exportEnv, ...tagEnv[tag] },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let log = "";
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      try {
        const url = await new Promise<string>((resolve, reject) => {
          child.stderr.on("data", (d: Buffer) => {
            log += d.toString();
            const m = /serving on (http:\/\/\S+)/.exec(log);
            if (m?.[1] !== undefined) resolve(m[1]);
          });
          void exited.then(() => reject(new Error(`freshet run exited:\n${log}`)));
        });
        const want = await expected();
        const read = async (): Promise<unknown[]> => Promise.all(USERS.map(async ({ user }) => (await fetch(`${url}/v1/online/user_spend/${user}`)).json()));
        const end = Date.now() + 30_000;
        let got = await read();
        while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < end) {
          await new Promise((r) => setTimeout(r, 100));
          got = await read();
        }
        expect(got).toEqual(want);
        expect((want[3] as { orders_1h: number }).orders_1h).toBeGreaterThan(0);
        child.kill("SIGTERM");
        expect(await exited).toBe(0);
        expect(log).toContain("stopping (SIGTERM)");
        const reopened = await FeatureStore.open({ dir, state: "checkpoints", clock: "event" });
        await reopened.apply([orders, userSpend]);
        expect(reopened.stats().datasets.orders?.accepted).toBe(N);
        expect(Object.keys(reopened.savedPositions())).toEqual(["orders"]);
        await reopened.close();
        if ("EXAMPLE_EXPORT" in exportEnv) {
          // What the job exported equals what it served, with the watermark as event time.
          const redis = await RedisOnlineStore.connect(SERVICES.redis.url, { prefix });
          const features = ["orders_1h", "spend_1h", "avg_order_1d"];
          const cells = await redis.read("user_spend", USERS.map((u) => u.user), features, { now: Date.now() });
          expect(cells.map((row) => row.map((c) => c.value))).toEqual(want.map((r) => features.map((f) => (r as Record<string, unknown>)[f])));
          expect(cells[0]?.[0]?.eventTime).toBe(ORDERS[N - 1]!.ts - 10_000);
          await redis.dropNamespace("user_spend");
          await redis.close();
          expect(log).toContain("exporting user_spend to the redis online store");
        }
      } finally {
        child.kill("SIGKILL");
        await cleanup();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 90_000);
  }
});
