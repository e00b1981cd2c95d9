import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../src/core/clock.js";
import { t } from "../src/core/schema.js";
import { avg, count, sum } from "../src/dsl/aggregations.js";
import { dataset } from "../src/dsl/dataset.js";
import { FeatureStore } from "../src/featureStore/featureStore.js";
import { FileRegistry } from "../src/registry/fileRegistry.js";
import { loadReadLog, ReadLog } from "../src/serving/readLog.js";
import { createServer, type FreshetServer } from "../src/serving/server.js";
import { MemoryOnlineStore } from "../src/stores/online/memoryOnlineStore.js";
import { mulberry32 } from "../src/sources/generator/generatorSource.js";
import { startServer } from "../src/cli/serve.js";
import { formatSkewReport, runSkewCheck } from "../src/cli/skewCommand.js";

const T0 = Date.UTC(2026, 5, 1);
const SEC = 1000;
const taps = dataset("taps", { user: t.string(), value: t.float(), ts: t.timestamp() }, { timestamp: "ts", lateness: "1m" });
const perUser = taps.groupBy("user").aggregate({ n_10m: count({ window: "10m" }), total_10m: sum("value", { window: "10m" }), mean_1h: avg("value", { window: "1h" }) }).as("per_user");

let server: FreshetServer | undefined;
let store: FeatureStore | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  await store?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  server = undefined;
  store = undefined;
  dir = undefined;
});

/** A server over a store fed by pushes while a wall clock (manual) moves; reads are logged for every key. */
async function liveRun(readLog: ReadLog, late: boolean): Promise<FeatureStore> {
  const clock = new ManualClock(T0);
  store = await FeatureStore.open({ clock });
  await store.apply([taps, perUser]);
  server = await createServer({ store, online: new MemoryOnlineStore(), registry: FileRegistry.inMemory(), clock, logLevel: false, readLog });
  const rand = mulberry32(11);
  const users = Array.from({ length: 12 }, (_, i) => `u${i}`);
  for (let step = 0; step < 40; step++) {
    clock.set(T0 + step * 30 * SEC);
    const rows = Array.from({ length: 8 }, () => ({ user: users[Math.floor(rand() * users.length)], value: Math.round(rand() * 1000) / 10, ts: clock.now() - Math.floor(rand() * 20) * SEC }));
    await server.app.inject({ method: "POST", url: "/v1/push/taps", payload: { rows } });
    await server.app.inject({ method: "POST", url: "/v1/online/per_user", payload: { keys: users.slice(0, 6).map((user) => ({ user })) } });
    await server.app.inject({ method: "POST", url: "/get-online-features", payload: { features: ["per_user:n_10m", "per_user:total_10m", "per_user:mean_1h"], entities: { user: users.slice(6) } } });
    await server.app.inject({ method: "GET", url: `/v1/online/per_user/${users[step % users.length]}` });
  }
  if (late) {
    // An event within the lateness arrives after reads at later times were served:
    // those reads missed it, which is skew the check must see.
    await server.app.inject({ method: "POST", url: "/v1/push/taps", payload: { rows: [{ user: "u3", value: 50, ts: clock.now() - 50 * SEC }] } });
  }
  return store;
}

describe("online/offline skew check", () => {
  it("on data the engine produced itself, every served read recomputes to the same values: mismatch 0", async () => {
    dir = await mkdtemp(join(tmpdir(), "freshet-skew-"));
    const log = new ReadLog(1, join(dir, "reads.jsonl"));
    const s = await liveRun(log, false);
    await server?.close();
    server = undefined;
    const reads = await loadReadLog(join(dir, "reads.jsonl"));
    expect(reads.length).toBe(40 * 13);
    const report = await s.checkSkew(reads);
    expect(Object.keys(report.features).sort()).toEqual(["per_user:mean_1h", "per_user:n_10m", "per_user:total_10m"]);
    for (const f of Object.values(report.features)) {
      expect(f).toMatchObject({ reads: 40 * 13, mismatches: 0, missing: 0, extra: 0, mismatchRate: 0 });
      expect(f.smape === null || f.smape === 0).toBe(true);
    }
    // Served values are not all empty: the check compared real numbers.
    expect(reads.filter((r) => (r.values.n_10m as number) > 0).length).toBeGreaterThan(200);
  });

  it("a late event that reads had already missed shows up as skew", async () => {
    const log = new ReadLog(1);
    const s = await liveRun(log, true);
    const report = await s.checkSkew(log.entries());
    const n = report.features["per_user:n_10m"];
    expect(n?.mismatches).toBeGreaterThan(0);
    expect(n?.mismatchRate).toBeLessThan(0.1);
    expect(report.features["per_user:total_10m"]?.smape).toBeGreaterThan(0);
  });

  it("samples by key hash: a key's reads are all logged or none", async () => {
    const log = new ReadLog(0.5);
    await liveRun(log, false);
    const users = new Set(log.entries().map((e) => e.key.user));
    expect(users.size).toBeGreaterThan(0);
    expect(users.size).toBeLessThan(12);
    for (const u of users) expect(log.sampled([u])).toBe(true);
    expect(log.entries().every((e) => users.has(e.key.user))).toBe(true);
    const perKey = new Map<unknown, number>();
    for (const e of log.entries()) perKey.set(e.key.user, (perKey.get(e.key.user) ?? 0) + 1);
    // u0..u5 are read 40 times by the native batch, u6..u11 40 times by Feast, plus the single GETs.
    for (const [, c] of perKey) expect(c).toBeGreaterThanOrEqual(40);
  });

  it("freshet serve --log-reads, then freshet skew over its data directory: every rate 0", async () => {
    dir = await mkdtemp(join(tmpdir(), "freshet-skew-cli-"));
    const running = await startServer({ module: "examples/serving.ts", port: 0, host: "127.0.0.1", dir, logLevel: false, logReads: 1 });
    try {
      for (const kind of ["rain", "sun", "fog", "snow", "drizzle"]) {
        const res = await fetch(`${running.url}/v1/online/weather_totals/${kind}`);
        expect(res.status).toBe(200);
      }
      const res = await fetch(`${running.url}/get-online-features`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ features: ["weather_stats:rain_30d", "weather_stats:days_30d"], entities: { weather: ["rain", "sun"] } }) });
      expect(res.status).toBe(200);
    } finally {
      await running.close();
    }
    const report = await runSkewCheck({ module: "examples/serving.ts", dir });
    expect(report.reads).toBe(7);
    expect(Object.values(report.features).every((f) => f.mismatchRate === 0)).toBe(true);
    expect(report.features["weather_totals:days"]?.reads).toBe(5);
    expect(formatSkewReport(report)).toContain("weather_stats:rain_30d");
  });
});
