#!/usr/bin/env node
import { Command, InvalidArgumentError } from "commander";
import { FreshetError } from "../errors.js";
import { parseDuration } from "../core/duration.js";
import type { TokenConfig } from "../serving/auth.js";

// Each command loads its own modules when it runs: `freshet run` restarting
// after a crash does not wait for DuckDB, the demo or the training-set code.

function parseFraction(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError("must be a number from 0 to 1");
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("must be a positive whole number");
  return n;
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError("must be a port number from 0 to 65535 (0 picks a free port)");
  return n;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

function logLevel(value: string): (typeof LOG_LEVELS)[number] {
  const level = LOG_LEVELS.find((l) => l === value);
  if (level === undefined) throw new InvalidArgumentError(`--log-level must be one of ${LOG_LEVELS.join(", ")}`);
  return level;
}

/** `--state`: "checkpoints" (files under --dir) or a redis:// URL (the chain in Redis). */
function stateOption(value: string): string {
  if (value === "checkpoints" || /^rediss?:\/\/./.test(value)) return value;
  throw new InvalidArgumentError('must be "checkpoints" or a redis:// URL');
}

function checkpointPlace(state: string, prefix: string): "checkpoints" | { redis: string; prefix: string } {
  return state === "checkpoints" ? "checkpoints" : { redis: state, prefix };
}

const program = new Command();
program.name("freshet").description("Real-time ML features in TypeScript: one definition, offline backfill and online serving.").version("0.1.0");

program
  .command("demo")
  .description("Backfill per-airport delay features from 3M real US flights (2001), replay the last days as a live stream, print features")
  .option("--days <n>", "days at the end replayed through the online push path", positiveInt, 3)
  .option("--batch <n>", "rows per push in the live phase", positiveInt, 2_000)
  .option("--airports <n>", "busiest airports to print", positiveInt, 8)
  .option("--limit <n>", "read only the first N rows", positiveInt)
  .option("--dir <path>", "persist to this data directory (LMDB + Parquet); in memory when omitted")
  .action(async (opts: { days: number; batch: number; airports: number; limit?: number; dir?: string }) => {
    const { defaultDemoOptions, runDemo } = await import("./demo.js");
    const base = defaultDemoOptions();
    const result = await runDemo({ ...base, streamDays: opts.days, pushBatch: opts.batch, airports: opts.airports, limit: opts.limit, dir: opts.dir });
    if (!result.consistent) process.exitCode = 1;
  });

program
  .command("serve")
  .description("Serve features over HTTP: Freshet's /v1 API, Feast's routes and the Realtime Feature Store's routes")
  .argument("[module]", "definitions module (.ts or .js) exporting datasets, tables and on-demand features, and optionally `serve` (stores)")
  .option("--port <n>", "port to listen on (0 picks a free one)", portNumber, 8080)
  .option("--host <host>", "address to listen on", "127.0.0.1")
  .option("--dir <path>", "data directory (engine state, history, LMDB online store, registry file); in memory when omitted")
  .option("--online <store>", 'online store of registered features: "memory", "lmdb" or a redis:// URL')
  .option("--registry <registry>", 'registry: "file" or a postgres:// URL')
  .option("--tokens-file <path>", 'bearer tokens as JSON ({"tokens": [{"token": "...", "scopes": ["read"]}]}); or set FRESHET_TOKENS="token=read,write;..."')
  .option("--cors <origins>", "comma-separated origins allowed by CORS (none by default)")
  .option("--body-limit <bytes>", "largest request body (default 1 MiB)", positiveInt)
  .option("--log-level <level>", "JSON log level: fatal, error, warn, info, debug, trace or silent", "info")
  .option("--log-requests", "log every request")
  .option("--log-reads <fraction>", "log the computed-table reads of this fraction of keys (by key hash) for `freshet skew`", parseFraction)
  .option("--read-log <file>", "where --log-reads writes (default: read-log.jsonl in --dir)")
  .action(
    async (
      module: string | undefined,
      opts: { port: number; host: string; dir?: string; online?: string; registry?: string; tokensFile?: string; cors?: string; bodyLimit?: number; logLevel: string; logRequests?: boolean; logReads?: number; readLog?: string },
    ) => {
      const level = logLevel(opts.logLevel);
      const { loadTokenFile, parseTokenEnv } = await import("../serving/auth.js");
      const { startServer } = await import("./serve.js");
      let tokens: TokenConfig[] | undefined;
      if (opts.tokensFile !== undefined) tokens = await loadTokenFile(opts.tokensFile);
      else if (process.env.FRESHET_TOKENS !== undefined && process.env.FRESHET_TOKENS !== "") tokens = parseTokenEnv(process.env.FRESHET_TOKENS);
      const running = await startServer(
        {
          ...(module === undefined ? {} : { module }),
          port: opts.port,
          host: opts.host,
          ...(opts.dir === undefined ? {} : { dir: opts.dir }),
          ...(opts.online === undefined ? {} : { online: opts.online }),
          ...(opts.registry === undefined ? {} : { registry: opts.registry }),
          ...(tokens === undefined ? {} : { tokens }),
          ...(opts.cors === undefined ? {} : { corsOrigins: opts.cors.split(",").map((s) => s.trim()) }),
          ...(opts.bodyLimit === undefined ? {} : { bodyLimit: opts.bodyLimit }),
          logLevel: level === "silent" ? false : level,
          ...(opts.logRequests === true ? { logRequests: true } : {}),
          ...(opts.logReads === undefined ? {} : { logReads: opts.logReads }),
          ...(opts.readLog === undefined ? {} : { readLogPath: opts.readLog }),
        },
        (line) => process.stderr.write(`${line}\n`),
      );
      const stop = (): void => {
        running.close().then(
          () => process.exit(0),
          (e: unknown) => {
            process.stderr.write(`freshet: closing failed: ${(e as Error).message}\n`);
            process.exit(1);
          },
        );
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    },
  );

program
  .command("run")
  .description("Run the online job: consume the module's stream sources (a tag of serve.sources), update its tables, checkpoint, and serve")
  .argument("<module>", "definitions module (.ts or .js) whose serve.sources has a tag of stream sources (natsSource, kafkaSource, ...)")
  .option("--dir <path>", "data directory: checkpoints (state + source positions), history; without it nothing survives a restart")
  .option("--no-serve", "do not serve over HTTP from this process")
  .option("--port <n>", "port to listen on (0 picks a free one)", portNumber, 8080)
  .option("--host <host>", "address to listen on", "127.0.0.1")
  .option("--tag <tag>", 'the tag of serve.sources to consume (default: serve.job.tag, else "online")')
  .option("--checkpoint-every <duration>", 'time between checkpoints, e.g. "1s", "500ms" (default 1s)')
  .option("--state <where>", 'where checkpoints (state + source positions) go: "checkpoints" (files under --dir, the default) or a redis:// URL', stateOption, "checkpoints")
  .option("--state-prefix <prefix>", "with a redis:// --state: the key prefix of this job's checkpoints (one per job)", "freshet")
  .option("--log-level <level>", "JSON log level of the server: fatal, error, warn, info, debug, trace or silent", "warn")
  .action(async (module: string, opts: { dir?: string; serve: boolean; port: number; host: string; tag?: string; checkpointEvery?: string; state: string; statePrefix: string; logLevel: string }) => {
    const level = logLevel(opts.logLevel);
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    const { startJob } = await import("./run.js");
    // Signals are handled from before the job says it is running: one that
    // arrives while it starts stops it cleanly once it has started.
    let running: Awaited<ReturnType<typeof startJob>> | undefined;
    let requested: { code: number; message: string } | undefined;
    let exiting = false;
    const exit = (code: number, message?: string): void => {
      if (exiting) return;
      if (running === undefined) {
        requested ??= { code, message: message ?? "" };
        return;
      }
      exiting = true;
      if (message !== undefined && message !== "") log(message);
      running.close().then(
        () => process.exit(code),
        (e: unknown) => {
          // A failed job's error was reported already; anything else is news.
          if (code === 0) log(`freshet: closing failed: ${(e as Error).message}`);
          process.exit(1);
        },
      );
    };
    process.once("SIGINT", () => exit(0, "freshet: stopping (SIGINT): finishing the batch in flight, checkpointing"));
    process.once("SIGTERM", () => exit(0, "freshet: stopping (SIGTERM): finishing the batch in flight, checkpointing"));
    running = await startJob(
      {
        module,
        serve: opts.serve,
        port: opts.port,
        host: opts.host,
        logLevel: level === "silent" ? false : level,
        ...(opts.dir === undefined ? {} : { dir: opts.dir }),
        ...(opts.tag === undefined ? {} : { tag: opts.tag }),
        ...(opts.checkpointEvery === undefined ? {} : { checkpointEveryMs: parseDuration(opts.checkpointEvery) }),
        state: checkpointPlace(opts.state, opts.statePrefix),
      },
      log,
    );
    running.job.done.catch((e: unknown) => exit(1, `freshet: the job failed: ${(e as Error).message}`));
    if (requested !== undefined) exit(requested.code, requested.message);
  });

program
  .command("backfill")
  .description("Replay a definitions module's offline inputs (a source tag or serve.materialize) into a data directory, with progress")
  .argument("<module>", "definitions module (.ts or .js)")
  .requiredOption("--dir <path>", "data directory to backfill")
  .option("--tag <tag>", "a tag of the module's serve.sources (default: serve.materialize)")
  .option("--checkpoint-every <rows>", "commit every this many rows; a killed backfill run again resumes from the last commit", positiveInt, 250_000)
  .action(async (module: string, opts: { dir: string; tag?: string; checkpointEvery: number }) => {
    const { runBackfill } = await import("./backfill.js");
    const r = await runBackfill({ module, dir: opts.dir, checkpointEvery: opts.checkpointEvery, ...(opts.tag === undefined ? {} : { tag: opts.tag }), log: (line) => process.stderr.write(`${line}\n`) });
    process.stderr.write(`backfill done in ${r.seconds.toFixed(2)} s\n`);
  });

program
  .command("skew")
  .description("Online/offline skew check: recompute logged online reads (serve --log-reads) offline and report per feature")
  .argument("<module>", "the definitions module the server ran")
  .requiredOption("--dir <path>", "the server's data directory (its recorded history)")
  .option("--log <file>", "the read log (default: read-log.jsonl in --dir)")
  .option("--json", "print the report as JSON")
  .action(async (module: string, opts: { dir: string; log?: string; json?: boolean }) => {
    const { formatSkewReport, runSkewCheck } = await import("./skewCommand.js");
    const report = await runSkewCheck({ module, dir: opts.dir, ...(opts.log === undefined ? {} : { log: opts.log }) });
    process.stdout.write(opts.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatSkewReport(report));
  });

program
  .command("training-set")
  .description("Build a point-in-time feature-label set from a YAML config (definitions, entity file, features, label, time range)")
  .requiredOption("--config <yaml>", "the training-set config (see examples/training-set.yaml)")
  .requiredOption("--out <file>", "where to write the set: .parquet or .csv")
  .option("--dir <path>", "a data directory whose history to use (and keep); the module's serve.materialize inputs are replayed when it has none")
  .action(async (opts: { config: string; out: string; dir?: string }) => {
    const { runTrainingSet } = await import("./trainingSetCommand.js");
    await runTrainingSet({ config: opts.config, out: opts.out, ...(opts.dir === undefined ? {} : { dir: opts.dir }), log: (line) => process.stderr.write(`${line}\n`) });
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof FreshetError) {
    process.stderr.write(`freshet: ${err.message} [${err.code}]\n`);
    process.exitCode = 2;
  } else {
    throw err;
  }
}
