/**
 * Serving bench: req/s and p50/p99 latency at 10 connections (autocannon),
 * each target in its own process, next to a bare node:http server returning
 * a fixed 4-field JSON in the same run (the ceiling on this box).
 *
 *   npm run bench:serve                       # 5 s per scenario
 *   npm run bench:serve -- --seconds=10 --connections=10
 *   npm run bench:serve -- --no-redis         # skip the Redis targets
 *
 * The freshet targets (bench/serveTarget.ts) hold 1,000 entities × 4
 * registered features and a computed table of 1,000 keys × 4 features.
 */
import autocannon from "autocannon";
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { numberArg } from "./benchArgs.js";
import { ENTITIES } from "./serveDefinitions.js";

const SECONDS = numberArg("seconds") ?? 5;
const CONNECTIONS = numberArg("connections") ?? 10;
const WITH_REDIS = !process.argv.includes("--no-redis");

interface Target {
  readonly url: string;
  readonly child: ChildProcess;
}

async function startTarget(...args: string[]): Promise<Target> {
  const script = fileURLToPath(new URL("./serveTarget.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`serveTarget ${args.join(" ")} exited with ${code}`)));
  });
  return { url, child };
}

async function stopTarget(t: Target): Promise<void> {
  const exited = new Promise((resolve) => t.child.once("exit", resolve));
  t.child.kill("SIGTERM");
  await exited;
}

interface Scenario {
  readonly name: string;
  readonly method: "GET" | "POST";
  /** Path (and body) of the i-th request: entities rotate so reads are not one hot key. */
  readonly request: (i: number) => { path: string; body?: string };
  /** The same requests as a wrk Lua `request` function body (i counts from 1). */
  readonly lua: string;
}

interface Figures {
  readonly reqPerSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

/** wrk (C, from Debian's wrk package) loads the server with far less CPU than autocannon; used when installed. */
const WRK = process.argv.includes("--autocannon") ? undefined : ["/usr/bin/wrk", "/usr/local/bin/wrk"].find((p) => existsSync(p));

async function measureWrk(wrk: string, url: string, s: Scenario, seconds: number): Promise<Figures> {
  const script = join(tmpdir(), `freshet-bench-${process.pid}.lua`);
  await writeFile(
    script,
    `local i = 0
local entity = function(k) return "user_" .. (k % ${ENTITIES}) end
request = function()
  i = i + 1
  ${s.lua}
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %f %f %f %d\\n", summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000, e.connect + e.read + e.write + e.status + e.timeout))
end
`,
  );
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(wrk, ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "-s", script, url], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    child.stdout.on("data", (c: Buffer) => (text += c.toString()));
    child.once("exit", (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited with ${code}`))));
  });
  const m = /RESULT (\S+) (\S+) (\S+) (\S+)/.exec(out);
  if (m === null) throw new Error(`no result from wrk: ${out}`);
  return { reqPerSec: Number(m[1]), p50: Number(m[2]), p99: Number(m[3]), errors: Number(m[4]) };
}

async function measure(url: string, s: Scenario, seconds = SECONDS): Promise<Figures> {
  if (WRK !== undefined) return measureWrk(WRK, url, s, seconds);
  let i = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: s.method,
        setupRequest: (req) => {
          const r = s.request(i++);
          return { ...req, path: r.path, ...(r.body === undefined ? {} : { body: r.body, headers: { "content-type": "application/json" } }) };
        },
      },
    ],
  });
  return { reqPerSec: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

const user = (i: number): string => `user_${i % ENTITIES}`;
const batch = (i: number, n: number): string[] => Array.from({ length: n }, (_, j) => user(i * n + j));

/** Lua building a Feast body for entities i*n .. i*n+n-1. */
function feastLua(features: readonly string[], n: number): string {
  return `local ids = {}
  for j = 0, ${n - 1} do ids[#ids + 1] = '"' .. entity(i * ${n} + j) .. '"' end
  return wrk.format("POST", "/get-online-features", { ["Content-Type"] = "application/json" }, '{"features":[${features.map((f) => `"${f}"`).join(",")}],"entities":{"user":[' .. table.concat(ids, ",") .. ']}}')`;
}

const REGISTERED = ["user_features:f1", "user_features:f2", "user_features:f3", "user_features:f4"];
const COMPUTED = ["user_stats:n_1h", "user_stats:total_1h", "user_stats:mean_1h", "user_stats:top_1h"];

function feastRegistered(n: number): Scenario {
  return {
    lua: feastLua(REGISTERED, n),
    name: `Feast POST /get-online-features, ${n} entit${n === 1 ? "y" : "ies"} × 4 registered`,
    method: "POST",
    request: (i) => ({ path: "/get-online-features", body: JSON.stringify({ features: REGISTERED, entities: { user: batch(i, n) } }) }),
  };
}

function feastTable(n: number): Scenario {
  return {
    lua: feastLua(COMPUTED, n),
    name: `Feast POST /get-online-features, ${n} entit${n === 1 ? "y" : "ies"} × 4 computed`,
    method: "POST",
    request: (i) => ({ path: "/get-online-features", body: JSON.stringify({ features: COMPUTED, entities: { user: batch(i, n) } }) }),
  };
}

const singleTable: Scenario = {
  name: "GET /v1/online/user_stats/:key (computed, 4 features)",
  method: "GET",
  request: (i) => ({ path: `/v1/online/user_stats/${user(i)}` }),
  lua: 'return wrk.format("GET", "/v1/online/user_stats/" .. entity(i))',
};
const singleRegistered: Scenario = {
  name: "GET /features/online/:id?feature_names=f1..f4 (registered)",
  method: "GET",
  request: (i) => ({ path: `/features/online/${user(i)}?feature_names=f1,f2,f3,f4` }),
  lua: 'return wrk.format("GET", "/features/online/" .. entity(i) .. "?feature_names=f1,f2,f3,f4")',
};

function row(name: string, f: Figures, bare: number): string {
  return `${name.padEnd(66)} ${f.reqPerSec.toFixed(0).padStart(8)} ${f.p50.toFixed(2).padStart(7)} ${f.p99.toFixed(2).padStart(7)} ${(f.reqPerSec / bare).toFixed(2).padStart(6)}×${f.errors > 0 ? `  (${f.errors} errors)` : ""}`;
}

// The bare server runs throughout and is measured right before each scenario:
// the ratio compares two adjacent runs, which the noise of this box affects alike.
const bareTarget = await startTarget("bare");
const bareScenario: Scenario = { name: "bare node:http, fixed 4-field JSON (ceiling)", method: "GET", request: () => ({ path: "/" }), lua: 'return wrk.format("GET", "/")' };
await measure(bareTarget.url, bareScenario, 1); // warm-up

process.stdout.write(`serving bench: ${WRK === undefined ? "autocannon" : "wrk -t1"}, ${CONNECTIONS} connections, ${SECONDS} s per scenario, ${ENTITIES} entities × 4 features\n`);
process.stdout.write(`${"scenario".padEnd(66)} ${"req/s".padStart(8)} ${"p50 ms".padStart(7)} ${"p99 ms".padStart(7)} ${"ratio".padStart(7)}   bare req/s, p99 ms (just before)\n`);

for (const kind of WITH_REDIS ? ["lmdb", "redis"] : ["lmdb"]) {
  const target = await startTarget("freshet", kind);
  process.stdout.write(`-- freshet serve, registered features in ${kind === "lmdb" ? "the embedded store (LMDB)" : "Redis 127.0.0.1:6379"}\n`);
  const scenarios = kind === "lmdb" ? [singleTable, singleRegistered, feastRegistered(1), feastRegistered(10), feastRegistered(50), feastTable(1), feastTable(10), feastTable(50)] : [singleRegistered, feastRegistered(1), feastRegistered(10), feastRegistered(50)];
  await measure(target.url, scenarios[0] as Scenario, 1); // warm-up
  for (const s of scenarios) {
    const bare = await measure(bareTarget.url, bareScenario);
    const f = await measure(target.url, s);
    process.stdout.write(`${row(s.name, f, bare.reqPerSec)}   ${bare.reqPerSec.toFixed(0).padStart(6)}, ${bare.p99.toFixed(2)}\n`);
  }
  await stopTarget(target);
}
await stopTarget(bareTarget);
