/**
 * ralf's experiment, reproduced in shape: a per-airport delay forecast whose
 * refresh is expensive, under compute budgets from ample to scarce, with each
 * scheduling policy. Feature-store regret = the forecast's mean absolute error
 * with the feature as served minus the error with an always-fresh feature.
 *
 * Data: vega-datasets' flights-3m.parquet, the first FLIGHTS flights in time
 * order (2001-01-01 onwards). Each airport's count window of its last 40
 * departures, every 4 departures, is forecast (an exponentially weighted
 * mean). Flights replay minute by minute on a simulated clock (the store's
 * ManualClock set to each minute): every flight first asks its origin's
 * forecast (the query, whose error is scored against the flight's delay),
 * then the minute's flights are pushed. The cost of a refresh is simulated by
 * the budget (updates per simulated second), not by sleeping, so a run takes
 * seconds. Prints the table; writes docs/policies-regret.svg.
 *
 * Run: npm run bench:policies [-- --flights=160000] [-- --rmse: root mean squared error instead of MAE]
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dataset, FeatureStore, t } from "freshet";
import { ManualClock } from "../src/core/clock.js";
import type { ScheduleKind } from "../src/dsl/policy.js";
import { numberArg } from "./benchArgs.js";
import { loadFlights, type FlightRow } from "./flightsData.js";

const FLIGHTS = numberArg("flights") ?? 160_000;
const SIZE = 40;
const SLIDE = 4;
const ALPHA = 0.15;
/** Backfilled before the online replay starts. */
const WARM_MS = 24 * 3600_000;
/** Budgets as fractions of the mean rate of window updates offered. */
const BUDGETS = [1, 0.5, 0.25, 0.1, 0.05];
const SCHEDULES: readonly ScheduleKind[] = ["fifo", "lifo", "key-lifo", "round-robin", "least-recently-updated", "max-staleness", "query-weighted", "cumulative-error"];

const flights = dataset("flights", { origin: t.string(), delay: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
type Flight = { origin: string; delay: number; ts: number };

/** The expensive model: an exponentially weighted mean of the window's delays, oldest to newest. */
function forecast(w: Flight[]): { forecast: number; last_ts: number } {
  let f = w[0]?.delay ?? 0;
  for (const r of w) f += ALPHA * (r.delay - f);
  return { forecast: f, last_ts: w[w.length - 1]?.ts ?? 0 };
}

/** ralf's error function, cheap: how far the window's newest departures are from the forecast served. */
function forecastError(current: { forecast: number } | null, w: Flight[]): number {
  if (current === null) return 1e6; // never forecast: first
  let sum = 0;
  for (let i = Math.max(0, w.length - SLIDE); i < w.length; i++) sum += (w[i] as Flight).delay;
  return Math.abs(sum / Math.min(SLIDE, w.length) - current.forecast);
}

const windowed = () => flights.groupBy("origin").window({ size: SIZE, slide: SLIDE }).apply(forecast, { output: { forecast: t.float(), last_ts: t.timestamp() } });

interface Run {
  /** Per flight (query), the forecast served (NaN: none yet) and the newest departure it reflects. */
  readonly predicted: Float64Array;
  readonly reflects: Float64Array;
  readonly computed: number;
  readonly offered: number;
  readonly seconds: number;
}

async function run(warm: readonly Flight[], minutes: ReadonlyArray<readonly Flight[]>, schedule: ScheduleKind | "fresh", perSecond: number): Promise<Run> {
  const started = performance.now();
  const clock = new ManualClock(0);
  const budget = { perSecond, burst: Math.max(1, perSecond * 60) }; // a minute's worth: pushes come once a minute
  const base = windowed();
  const table =
    schedule === "fresh"
      ? base.as("delay_forecast")
      : schedule === "cumulative-error"
        ? base.policy({ schedule, error: forecastError, budget }).as("delay_forecast")
        : base.policy({ schedule, budget }).as("delay_forecast");
  const store = await FeatureStore.open({ clock });
  await store.apply([flights, table]);
  // The first day is backfilled (every window computed, policy or not): every airport starts with a forecast.
  await store.materializeOffline({ flights: warm }, { workers: 0 });
  const n = minutes.reduce((a, m) => a + m.length, 0);
  const predicted = new Float64Array(n);
  const reflects = new Float64Array(n);
  let q = 0;
  for (const minute of minutes) {
    const at = (minute[0] as Flight).ts;
    clock.set(at);
    const served = await store.getOnline(table, minute.map((f) => ({ origin: f.origin })));
    for (const r of served) {
      predicted[q] = r.forecast ?? Number.NaN;
      reflects[q++] = r.last_ts ?? Number.NaN;
    }
    await store.push("flights", minute);
  }
  const stats = schedule === "fresh" ? undefined : store.policyStats(table);
  await store.close();
  return { predicted, reflects, computed: stats?.computed ?? 0, offered: stats?.offered ?? 0, seconds: (performance.now() - started) / 1000 };
}

const METRIC = process.argv.includes("--rmse") ? "rmse" : "mae";
/** Mean absolute error over the flights; a flight without a forecast is scored against 0 minutes. */
function mae(delays: Float64Array, predicted: Float64Array): number {
  let s = 0;
  for (let i = 0; i < delays.length; i++) {
    const p = predicted[i] as number;
    const e = (delays[i] as number) - (Number.isNaN(p) ? 0 : p);
    s += METRIC === "mae" ? Math.abs(e) : e * e;
  }
  return METRIC === "mae" ? s / delays.length : Math.sqrt(s / delays.length);
}

/** Mean minutes between the newest departure the fresh forecast reflects and the one the served forecast reflects. */
function meanStaleness(fresh: Float64Array, served: Float64Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < fresh.length; i++) {
    const f = fresh[i] as number;
    if (Number.isNaN(f)) continue;
    const v = served[i] as number;
    s += Number.isNaN(v) ? 0 : (f - v) / 60_000;
    n++;
  }
  return n === 0 ? 0 : s / n;
}

function byMinute(rows: readonly FlightRow[]): Flight[][] {
  const out: Flight[][] = [];
  let cur: Flight[] = [];
  for (const r of rows) {
    if (cur.length > 0 && (cur[0] as Flight).ts !== r.date) {
      out.push(cur);
      cur = [];
    }
    cur.push({ origin: r.origin, delay: r.delay, ts: r.date });
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

const all = await loadFlights(FLIGHTS);
const warmUntil = (all[0]?.date ?? 0) + WARM_MS;
const warm = all.filter((r) => r.date < warmUntil).map((r) => ({ origin: r.origin, delay: r.delay, ts: r.date }));
const rows = all.filter((r) => r.date >= warmUntil);
const minutes = byMinute(rows);
const delays = Float64Array.from(rows, (r) => r.delay);
const first = rows[0]?.date ?? 0;
const last = rows[rows.length - 1]?.date ?? 0;
console.log(`${rows.length.toLocaleString("en-US")} flights, ${new Set(rows.map((r) => r.origin)).size} airports, ${new Date(first).toISOString().slice(0, 16)} to ${new Date(last).toISOString().slice(0, 16)}, ${minutes.length.toLocaleString("en-US")} pushes (one per minute)`);

const fresh = await run(warm, minutes, "fresh", 1);
const freshMae = mae(delays, fresh.predicted);
// The windows offered: each airport's 40th departure, then every 4th.
const perAirport = new Map<string, number>();
for (const r of warm) perAirport.set(r.origin, (perAirport.get(r.origin) ?? 0) + 1);
const windowsOf = (c: number): number => (c >= SIZE ? Math.floor((c - SIZE) / SLIDE) + 1 : 0);
let offered = -[...perAirport.values()].reduce((a, c) => a + windowsOf(c), 0);
for (const r of rows) perAirport.set(r.origin, (perAirport.get(r.origin) ?? 0) + 1);
for (const c of perAirport.values()) offered += windowsOf(c);
const offeredPerSecond = offered / ((last - first) / 1000);
console.log(`always fresh: ${METRIC.toUpperCase()} ${freshMae.toFixed(3)} min; ${offered.toLocaleString("en-US")} window updates offered (${(offeredPerSecond * 3600).toFixed(1)}/h on average)\n`);

interface Cell {
  readonly schedule: ScheduleKind;
  readonly budget: number;
  readonly perHour: number;
  readonly regret: number;
  readonly staleness: number;
  readonly computed: number;
}
const cells: Cell[] = [];
for (const budget of BUDGETS) {
  for (const schedule of SCHEDULES) {
    const r = await run(warm, minutes, schedule, budget * offeredPerSecond);
    if (r.offered !== offered) throw new Error(`${schedule}: ${r.offered} updates offered, expected ${offered}`);
    const cell = { schedule, budget, perHour: budget * offeredPerSecond * 3600, regret: mae(delays, r.predicted) - freshMae, staleness: meanStaleness(fresh.reflects, r.reflects), computed: r.computed };
    cells.push(cell);
    process.stderr.write(`  ${schedule} @ ${budget * 100}%: regret ${cell.regret.toFixed(3)} (${r.seconds.toFixed(1)} s)\n`);
  }
}

const pad = (s: string, n: number): string => s.padEnd(n);
const head = `| policy | ${BUDGETS.map((b) => `${b * 100}% (${(b * offeredPerSecond * 3600).toFixed(0)}/h)`).join(" | ")} |`;
const lines = [head, `|---|${BUDGETS.map(() => "---:").join("|")}|`];
for (const schedule of SCHEDULES) {
  const row = BUDGETS.map((b) => {
    const c = cells.find((x) => x.schedule === schedule && x.budget === b) as Cell;
    return `${c.regret.toFixed(3)} · ${c.staleness.toFixed(0)} min · ${c.computed.toLocaleString("en-US")}`;
  });
  lines.push(`| ${pad(schedule, 22)} | ${row.join(" | ")} |`);
}
const best = BUDGETS.map((b) => {
  const at = cells.filter((c) => c.budget === b);
  const ce = at.find((c) => c.schedule === "cumulative-error") as Cell;
  const baselines = at.filter((c) => c.schedule !== "cumulative-error");
  const bestBase = baselines.reduce((a, c) => (c.regret < a.regret ? c : a));
  const winner = at.reduce((a, c) => (c.regret < a.regret ? c : a));
  const fifo = at.find((c) => c.schedule === "fifo") as Cell;
  return `| ${b * 100}% | ${winner.schedule} | ${bestBase.schedule} (${bestBase.regret.toFixed(3)}) | ${(100 * (1 - ce.regret / bestBase.regret)).toFixed(1)}% | ${(100 * (1 - ce.regret / fifo.regret)).toFixed(1)}% |`;
});
console.log(`Regret (${METRIC.toUpperCase()} with the served feature − ${METRIC.toUpperCase()} always fresh, minutes of delay) · mean staleness · updates computed, by budget (% of the mean offered rate):\n`);
console.log(lines.join("\n"));
console.log("\n| budget | lowest regret | best other policy (regret) | cumulative-error vs best other | cumulative-error vs fifo |\n|---|---|---|---:|---:|");
console.log(best.join("\n"));

const svg = regretPlot(
  SCHEDULES.map((s) => ({ name: s, points: BUDGETS.map((b) => ({ x: b * 100, y: (cells.find((c) => c.schedule === s && c.budget === b) as Cell).regret })) })),
  { title: `Regret vs budget: per-airport delay forecast, ${rows.length.toLocaleString("en-US")} flights`, x: "budget, % of the mean rate of window updates (log scale)", y: `regret: ${METRIC.toUpperCase()} served − ${METRIC.toUpperCase()} fresh (minutes)` },
);
const out = fileURLToPath(new URL("../docs/policies-regret.svg", import.meta.url));
await writeFile(out, svg);
console.log(`\nwrote ${out}`);

/** A line chart of regret against budget (log x), one line per policy, as a standalone SVG. */
function regretPlot(series: ReadonlyArray<{ name: string; points: ReadonlyArray<{ x: number; y: number }> }>, labels: { title: string; x: string; y: string }): string {
  const W = 760;
  const H = 440;
  const m = { left: 70, right: 200, top: 40, bottom: 55 };
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const [x0, x1] = [Math.log10(Math.min(...xs)), Math.log10(Math.max(...xs))];
  const yMax = Math.max(...ys) * 1.05;
  const yMin = Math.min(0, ...ys);
  const px = (x: number): number => m.left + ((Math.log10(x) - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (y: number): number => H - m.bottom - ((y - yMin) / (yMax - yMin)) * (H - m.top - m.bottom);
  const colors = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#b279a2", "#9d755d", "#000000"];
  const esc = (s: string): string => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;");
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  out.push(`<text x="${W / 2 - m.right / 2 + m.left / 2}" y="22" text-anchor="middle" font-size="14">${esc(labels.title)}</text>`);
  const step = niceStep((yMax - yMin) / 6);
  for (let y = Math.ceil(yMin / step) * step; y <= yMax; y += step) {
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.left - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${Number(y.toFixed(6))}</text>`);
  }
  for (const x of [...new Set(xs)]) {
    out.push(`<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${m.top}" y2="${H - m.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${px(x).toFixed(1)}" y="${H - m.bottom + 16}" text-anchor="middle">${x}%</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 14}" text-anchor="middle">${esc(labels.x)}</text>`);
  out.push(`<text transform="translate(18 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(labels.y)}</text>`);
  series.forEach((s, i) => {
    const c = colors[i % colors.length] as string;
    const width = s.name === "cumulative-error" ? 3 : 1.5;
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="${width}" points="${pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(" ")}"/>`);
    for (const p of pts) out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${c}"/>`);
    const ly = m.top + 10 + i * 20;
    out.push(`<line x1="${W - m.right + 14}" x2="${W - m.right + 38}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="${width}"/>`);
    out.push(`<text x="${W - m.right + 44}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}
