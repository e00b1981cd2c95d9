import { readdir } from "node:fs/promises";
import { DefinitionError } from "../errors.js";
import { FeatureStore } from "../featureStore/featureStore.js";
import { parquetSource } from "../sources/files/parquetSource.js";
import { airportDelays, flights, flightsParquetPath } from "./flightsDemo.js";
import { PhaseProgress } from "./progress.js";

export interface DemoOptions {
  /** Days at the end of the data replayed as a live stream (default 3). */
  readonly streamDays: number;
  /** Rows per push in the live phase (default 2,000). */
  readonly pushBatch: number;
  /** Airports in the printed table (default 8). */
  readonly airports: number;
  /** Only the first N rows of the file (default: all 3M). */
  readonly limit: number | undefined;
  /** Data directory; in memory when absent. */
  readonly dir: string | undefined;
  readonly path: string;
  readonly out: NodeJS.WritableStream;
}

export interface DemoResult {
  readonly rows: number;
  readonly backfillEventsPerSec: number;
  readonly streamEventsPerSec: number;
  readonly snapshots: ReadonlyArray<{ at: Date; rows: ReadonlyArray<Record<string, unknown>> }>;
  readonly consistent: boolean;
}

const DAY = 86_400_000;

/**
 * The main job on the embedded store: backfill per-airport delay features
 * from real flights, then replay the last days through the online push path,
 * printing features of the busiest airports as of a few moments.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const out = options.out;
  const say = (s = ""): void => void out.write(`${s}\n`);
  if (options.dir !== undefined && (await readdir(options.dir).catch(() => [])).length > 0) {
    // Replaying the same history into a store that already has it would only dead-letter it as late.
    throw new DefinitionError(`the demo builds a new store, and ${options.dir} is not empty: remove it or pass another --dir`);
  }
  const source = parquetSource(options.path);
  const total = Math.min(source.size ?? Number.POSITIVE_INFINITY, options.limit ?? Number.POSITIVE_INFINITY);
  say(`Freshet demo: ${Number.isFinite(total) ? total.toLocaleString("en-US") : "all"} US flights of 2001 (vega-datasets flights-3m.parquet)`);

  const readBar = new PhaseProgress("read parquet", total);
  const raw: Array<Record<string, unknown>> = [];
  for await (const batch of source.batches()) {
    for (const r of batch) {
      if (raw.length >= total) break;
      raw.push(r as Record<string, unknown>);
    }
    readBar.update(raw.length);
    if (raw.length >= total) break;
  }
  readBar.stop(raw.length);

  // Rows arrive in date order; the last `streamDays` days become the live stream.
  const lastDate = toMs(raw[raw.length - 1]?.["date"]);
  const cut = lowerBound(raw, lastDate - options.streamDays * DAY);
  const history = raw.slice(0, cut);
  const live = raw.slice(cut);

  const busiest = topOrigins(raw, options.airports);
  const store = await FeatureStore.open({ clock: "event", ...(options.dir !== undefined ? { dir: options.dir } : {}) });
  await store.apply([flights, airportDelays]);

  const backfillBar = new PhaseProgress("backfill (offline)", history.length);
  const t0 = performance.now();
  await store.materializeOffline({ flights: history }, { onProgress: (p) => p.phase === "replay" && backfillBar.update(p.rows) });
  const backfillSecs = (performance.now() - t0) / 1000;
  backfillBar.stop(history.length);

  const snapshots: Array<{ at: Date; rows: ReadonlyArray<Record<string, unknown>> }> = [];
  const keys = busiest.map((origin) => ({ origin }));
  const snap = async (): Promise<void> => {
    const at = store.now(airportDelays);
    if (at !== null) snapshots.push({ at, rows: await store.getOnline(airportDelays, keys) });
  };
  await snap();

  const streamBar = new PhaseProgress("stream (online push)", live.length);
  const moments = new Set([Math.floor(live.length / 3), Math.floor((2 * live.length) / 3)]);
  let streamMs = 0;
  for (let i = 0; i < live.length; i += options.pushBatch) {
    const batch = live.slice(i, i + options.pushBatch);
    const s = performance.now();
    await store.push("flights", batch);
    streamMs += performance.now() - s;
    streamBar.update(i + batch.length);
    for (const m of moments) if (m >= i && m < i + batch.length) await snap();
  }
  streamBar.stop(live.length);
  await snap();

  // The contract, live: online values at the watermark equal point-in-time values.
  const at = store.now(airportDelays) ?? new Date(0);
  const online = await store.getOnline(airportDelays, keys, { at });
  const offline = await store.getHistorical(airportDelays, keys.map((k) => ({ ...k, ts: at })));
  const consistent = online.every((r, i) => JSON.stringify(r) === JSON.stringify({ ...offline[i], ts: undefined }));

  const backfillRate = history.length / backfillSecs;
  const streamRate = live.length / (streamMs / 1000);
  say();
  for (const s of snapshots) printTable(say, s.at, s.rows);
  const stats = store.stats().datasets["flights"];
  say(`backfill: ${history.length.toLocaleString("en-US")} events in ${backfillSecs.toFixed(2)} s = ${Math.round(backfillRate).toLocaleString("en-US")} events/s`);
  say(`stream:   ${live.length.toLocaleString("en-US")} events in ${(streamMs / 1000).toFixed(2)} s = ${Math.round(streamRate).toLocaleString("en-US")} events/s (push batches of ${options.pushBatch})`);
  say(`late: ${stats?.late ?? 0}, invalid: ${stats?.invalid ?? 0}; online == point-in-time at ${at.toISOString()}: ${consistent ? "yes" : "NO"}`);
  await store.close();
  return { rows: raw.length, backfillEventsPerSec: backfillRate, streamEventsPerSec: streamRate, snapshots, consistent };
}

function printTable(say: (s?: string) => void, at: Date, rows: ReadonlyArray<Record<string, unknown>>): void {
  const cols = ["origin", "flights_1h", "delay_sum_1d", "delay_avg_7d", "delay_max_1d", "delay_min_1d"];
  say(`as of ${at.toISOString()}`);
  say(cols.map((c, i) => (i === 0 ? c.padEnd(8) : c.padStart(13))).join(""));
  for (const r of rows) {
    say(
      cols
        .map((c, i) => {
          const v = r[c];
          const text = typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v);
          return i === 0 ? text.padEnd(8) : text.padStart(13);
        })
        .join(""),
    );
  }
  say();
}

function toMs(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  return Number(v);
}

function lowerBound(rows: ReadonlyArray<Record<string, unknown>>, t: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (toMs(rows[mid]?.["date"]) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function topOrigins(rows: ReadonlyArray<Record<string, unknown>>, n: number): string[] {
  const counts = new Map<string, number>();
  for (const r of rows) {
    const o = r["origin"];
    if (typeof o === "string") counts.set(o, (counts.get(o) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, n)
    .map(([o]) => o);
}

export function defaultDemoOptions(out: NodeJS.WritableStream = process.stdout): DemoOptions {
  return { streamDays: 3, pushBatch: 2_000, airports: 8, limit: undefined, dir: undefined, path: flightsParquetPath(), out };
}
