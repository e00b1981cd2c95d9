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
}

interface Figures {
  readonly reqPerSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

async function measure(url: string, s: Scenario, seconds = SECONDS): Promise<Figures> {
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

function feastRegistered(n: number): Scenario {
  return {
    name: `Feast POST /get-online-features, ${n} entit${n === 1 ? "y" : "ies"} × 4 registered`,
    method: "POST",
    request: (i) => ({ path: "/get-online-features", body: JSON.stringify({ features: ["user_features:f1", "user_features:f2", "user_features:f3", "user_features:f4"], entities: { user: batch(i, n) } }) }),
  };
}

function feastTable(n: number): Scenario {
  return {
    name: `Feast POST /get-online-features, ${n} entit${n === 1 ? "y" : "ies"} × 4 computed`,
    method: "POST",
    request: (i) => ({ path: "/get-online-features", body: JSON.stringify({ features: ["user_stats:n_1h", "user_stats:total_1h", "user_stats:mean_1h", "user_stats:top_1h"], entities: { user: batch(i, n) } }) }),
  };
}

const singleTable: Scenario = { name: "GET /v1/online/user_stats/:key (computed, 4 features)", method: "GET", request: (i) => ({ path: `/v1/online/user_stats/${user(i)}` }) };
const singleRegistered: Scenario = {
  name: "GET /features/online/:id?feature_names=f1..f4 (registered)",
  method: "GET",
  request: (i) => ({ path: `/features/online/${user(i)}?feature_names=f1,f2,f3,f4` }),
};

function row(name: string, f: Figures, bare: number): string {
  return `${name.padEnd(66)} ${f.reqPerSec.toFixed(0).padStart(8)} ${f.p50.toFixed(2).padStart(7)} ${f.p99.toFixed(2).padStart(7)} ${(f.reqPerSec / bare).toFixed(2).padStart(6)}×${f.errors > 0 ? `  (${f.errors} errors)` : ""}`;
}

const bareTarget = await startTarget("bare");
const bareScenario: Scenario = { name: "bare node:http, fixed 4-field JSON (ceiling)", method: "GET", request: () => ({ path: "/" }) };
await measure(bareTarget.url, bareScenario, 1); // warm-up
const bare = await measure(bareTarget.url, bareScenario);
await stopTarget(bareTarget);

process.stdout.write(`serving bench: ${CONNECTIONS} connections, ${SECONDS} s per scenario, ${ENTITIES} entities × 4 features\n`);
process.stdout.write(`${"scenario".padEnd(66)} ${"req/s".padStart(8)} ${"p50 ms".padStart(7)} ${"p99 ms".padStart(7)} ${"ratio".padStart(7)}\n`);
process.stdout.write(`${row(bareScenario.name, bare, bare.reqPerSec)}\n`);

for (const kind of WITH_REDIS ? ["lmdb", "redis"] : ["lmdb"]) {
  const target = await startTarget("freshet", kind);
  process.stdout.write(`-- freshet serve, registered features in ${kind === "lmdb" ? "the embedded store (LMDB)" : "Redis 127.0.0.1:6379"}\n`);
  const scenarios = kind === "lmdb" ? [singleTable, singleRegistered, feastRegistered(1), feastRegistered(10), feastRegistered(50), feastTable(1), feastTable(10), feastTable(50)] : [singleRegistered, feastRegistered(1), feastRegistered(10), feastRegistered(50)];
  await measure(target.url, scenarios[0] as Scenario, 1); // warm-up
  for (const s of scenarios) process.stdout.write(`${row(s.name, await measure(target.url, s), bare.reqPerSec)}\n`);
  await stopTarget(target);
}
