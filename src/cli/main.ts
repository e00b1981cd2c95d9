#!/usr/bin/env node
import { Command, InvalidArgumentError } from "commander";
import { FreshetError } from "../errors.js";
import { defaultDemoOptions, runDemo } from "./demo.js";

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("must be a positive whole number");
  return n;
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
    const base = defaultDemoOptions();
    const result = await runDemo({ ...base, streamDays: opts.days, pushBatch: opts.batch, airports: opts.airports, limit: opts.limit, dir: opts.dir });
    if (!result.consistent) process.exitCode = 1;
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
