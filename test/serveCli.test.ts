/**
 * `freshet serve` as a user starts it: the CLI in a child process
 * (`node --import tsx src/cli/main.ts serve ...`), talked to over HTTP. The
 * served values are checked against a FeatureStore opened here with the same
 * definitions and the same CSV, and against counts taken from the CSV itself.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { weather, weatherCsv, weatherStats, weatherTotals } from "../examples/serving.js";
import { csvSource, FeatureStore } from "../src/index.js";
import { freePort } from "./helpers/freePort.js";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const STARTUP_MS = 45_000;

interface Cli {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
}

const running = new Set<ChildProcess>();
const dirs: string[] = [];

afterEach(async () => {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    }
  }
  running.clear();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "freshet-serve-cli-"));
  dirs.push(d);
  return d;
}

function spawnCli(args: readonly string[]): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve", ...args, "--log-level", "warn"], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, FRESHET_TOKENS: "" },
  });
  running.add(child);
  let text = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => (text += chunk));
  return { child, stderr: () => text };
}

/** Starts `freshet serve` and resolves once it prints its "freshet serving ... on <url>" line. */
async function startCli(args: readonly string[]): Promise<Cli> {
  const port = await freePort();
  const { child, stderr } = spawnCli([...args, "--port", String(port)]);
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`freshet serve did not start within ${STARTUP_MS} ms; stderr:\n${stderr()}`)), STARTUP_MS);
    const check = (): void => {
      const m = /freshet serving .* on (http:\/\/\S+)/.exec(stderr());
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    };
    child.stderr?.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`freshet serve exited with code ${String(code)} before serving; stderr:\n${stderr()}`));
    });
  });
  expect(url).toBe(`http://127.0.0.1:${port}`);
  return { child, url, stderr };
}

/** Sends SIGTERM and resolves to the exit code. */
function stop(cli: Cli): Promise<number | null> {
  return new Promise((resolveCode) => {
    cli.child.once("exit", (code) => resolveCode(code));
    cli.child.kill("SIGTERM");
  });
}

/** Runs the CLI to completion (for start-up failures): exit code and stderr. */
function runToExit(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const { child, stderr } = spawnCli(args);
  return new Promise((resolveExit) => child.once("exit", (code) => resolveExit({ code, stderr: stderr() })));
}

async function json(url: string, init?: { method: string; body: unknown }): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, init === undefined ? {} : { method: init.method, body: JSON.stringify(init.body), headers: { "content-type": "application/json" } });
  return { status: res.status, body: await res.json() };
}

const KINDS = ["drizzle", "fog", "rain", "snow", "sun"] as const;
const keys = KINDS.map((w) => ({ weather: w }));
/**
 * Two weeks after the data's last day (2015-12-31): online reads cannot go
 * back before the watermark, but may look ahead, where the 7-day windows are
 * empty and the 30-day ones hold the second half of December.
 */
const AT = "2016-01-14T00:00:00Z";

/** The example's definitions over the same CSV, in this process: what the server must answer. */
async function directStore(): Promise<FeatureStore> {
  const store = await FeatureStore.open({ clock: "event" });
  await store.apply([weather, weatherStats, weatherTotals]);
  await store.materializeOffline({ weather: csvSource(weatherCsv) });
  return store;
}

/** Days of each weather kind in the CSV, counted from its lines. */
function daysPerKind(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(weatherCsv, "utf8").trim().split("\n").slice(1)) {
    const kind = line.split(",")[5] ?? "";
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}

/** The last day of each weather kind in the CSV (epoch ms, UTC). */
function lastDayPerKind(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(weatherCsv, "utf8").trim().split("\n").slice(1)) {
    const cells = line.split(",");
    const kind = cells[5] ?? "";
    out[kind] = Math.max(out[kind] ?? Number.NEGATIVE_INFINITY, Date.parse(`${cells[0]}T00:00:00Z`));
  }
  return out;
}

/**
 * weather_stats has a 30-day TTL: a kind whose last day is more than 30 days
 * before the read time serves nulls instead of its (empty-window) values.
 */
function withTtl(rows: ReadonlyArray<Record<string, unknown>>, readAt: number): Array<Record<string, unknown>> {
  const last = lastDayPerKind();
  return rows.map((r) => (readAt - (last[r.weather as string] ?? 0) > 30 * 86_400_000 ? Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === "weather" ? v : null])) : { ...r }));
}

describe("freshet serve (CLI in a child process)", () => {
  it("serves examples/serving.ts: values equal a direct computation, /docs is HTML, SIGTERM exits 0, a restart on the same --dir serves the same values and registered features", async () => {
    const dir = await tempDir();
    const args = ["examples/serving.ts", "--dir", join(dir, "data")];
    const direct = await directStore();
    try {
      const expectedNow = { stats: await direct.getOnline(weatherStats, keys), totals: await direct.getOnline(weatherTotals, keys) };
      const expectedAt = await direct.getOnline(weatherStats, keys, { at: AT });
      const counted = daysPerKind();
      expect(expectedNow.totals.map((r) => r.days)).toEqual(KINDS.map((k) => counted[k]));
      const rainAt = expectedAt.find((r) => r.weather === "rain");
      expect(rainAt?.days_30d).toBeGreaterThan(5);
      expect(rainAt?.days_30d).toBeLessThan(expectedNow.stats.find((r) => r.weather === "rain")?.days_30d ?? 0);
      expect(rainAt?.max_wind_7d).toBeNull();

      /** What a started server must answer, the first time and after the restart. */
      const checkValues = async (url: string): Promise<void> => {
        const watermark = Math.max(...Object.values(lastDayPerKind()));
        expect(await json(`${url}/v1/online/weather_stats`, { method: "POST", body: { keys } })).toEqual({ status: 200, body: { rows: withTtl(expectedNow.stats, watermark) } });
        expect(await json(`${url}/v1/online/weather_stats`, { method: "POST", body: { keys, at: AT } })).toEqual({ status: 200, body: { rows: withTtl(expectedAt, Date.parse(AT)) } });
        expect(await json(`${url}/v1/online/weather_totals/rain`)).toEqual({ status: 200, body: expectedNow.totals.find((r) => r.weather === "rain") });
        const stats = (await json(`${url}/v1/stats`)).body as { datasets: Record<string, { accepted: number }> };
        expect(stats.datasets.weather?.accepted).toBe(Object.values(counted).reduce((a, b) => a + b, 0));
      };

      const first = await startCli(args);
      expect(first.stderr()).toContain("replaying history into weather");
      expect(first.stderr()).toMatch(/weather: 1461 rows accepted, 0 late, 0 invalid/);
      expect(await json(`${first.url}/health`)).toEqual({ status: 200, body: { status: "ok", online: "lmdb", registry: "file" } });
      await checkValues(first.url);
      const docs = await fetch(`${first.url}/docs`);
      expect(docs.status).toBe(200);
      expect(docs.headers.get("content-type")).toContain("text/html");
      const page = await docs.text();
      expect(page).toContain("/v1/online/{table}");
      expect(page).toContain("/get-online-features");
      const tables = (await json(`${first.url}/v1/tables`)).body as { tables: Array<{ name: string; registry: { description?: string; owner?: string; ttlSeconds?: number } }> };
      expect(tables.tables.map((t) => [t.name, t.registry.owner, t.registry.ttlSeconds])).toEqual([
        ["weather_stats", "examples", 30 * 86_400],
        ["weather_totals", "examples", 3650 * 86_400],
      ]);
      // A registered feature beside the tables: its registry file and LMDB values live in --dir too.
      expect((await json(`${first.url}/register`, { method: "POST", body: { name: "umbrella", data_type: "bool", entity: "city" } })).status).toBe(200);
      const ingest = { entity_id: "seattle", features: [{ feature_name: "umbrella", value: true }] };
      expect((await json(`${first.url}/features/ingest`, { method: "POST", body: ingest })).status).toBe(200);
      expect(await stop(first)).toBe(0);

      // The data directory holds the state: no replay, the same answers.
      const second = await startCli(args);
      expect(second.stderr()).not.toContain("replaying history");
      await checkValues(second.url);
      expect(await json(`${second.url}/features/online/seattle`)).toEqual({ status: 200, body: { entity_id: "seattle", features: { umbrella: true } } });
      expect(await stop(second)).toBe(0);
    } finally {
      await direct.close();
    }
  });

  it("without a module, serves registered features: register, ingest, read over HTTP", async () => {
    const cli = await startCli([]);
    expect(cli.stderr()).toContain("freshet serving 0 tables, 0 datasets");
    expect(await json(`${cli.url}/health`)).toEqual({ status: 200, body: { status: "ok", online: "memory", registry: "file" } });
    const registered = await json(`${cli.url}/register`, { method: "POST", body: { name: "user_age", data_type: "int", entity: "user" } });
    expect(registered).toMatchObject({ status: 200, body: { message: "Feature registered" } });
    const ingested = await json(`${cli.url}/features/ingest`, { method: "POST", body: { entity_id: "u1", features: [{ feature_name: "user_age", value: 33 }] } });
    expect(ingested).toEqual({ status: 200, body: { message: "Features ingested successfully", entity_id: "u1", features: ["user_age"] } });
    expect(await json(`${cli.url}/features/online/u1`)).toEqual({ status: 200, body: { entity_id: "u1", features: { user_age: 33 } } });
    const batch = await json(`${cli.url}/features/online`, { method: "POST", body: { entity_ids: ["u1", "u2"], feature_names: ["user_age"] } });
    expect(batch.body).toEqual([
      { entity_id: "u1", features: { user_age: 33 } },
      { entity_id: "u2", features: { user_age: null } },
    ]);
    expect(await stop(cli)).toBe(0);
  });

  it("a module path that does not exist exits non-zero with a message naming the file", async () => {
    const missing = join(await tempDir(), "no-such-definitions.ts");
    const { code, stderr } = await runToExit([missing, "--port", String(await freePort())]);
    expect(code).toBe(2);
    expect(stderr).toContain(`definitions module ${missing} does not exist`);
    expect(stderr).toContain("[INVALID_DEFINITION]");
  });
});
