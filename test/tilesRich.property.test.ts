/**
 * Tiles for the aggregations read by window readers (first, last, firstK,
 * lastK, distinctCount, topK, approxDistinct, approxQuantile, decayedSum)
 * over hopping and forever windows: once the watermark passes events a key
 * keeps their algebras' partial states per tile, and reads merge them with the
 * events still kept. Checked on random events (times on a 100 ms grid, so
 * ties inside a tile and across tile boundaries are common; out of order
 * within the lateness; nulls), random batches and restarts through LMDB:
 *   - online reads equal point-in-time reads (an untiled replay) exactly;
 *   - both equal each window's definition: the lists and counts exactly,
 *     first/last ties as documented, the sketches equal to a fresh sketch of
 *     the window's values, decayedSum within 1e-12 of its terms;
 *   - events the watermark passed were dropped.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AggregateOperator } from "../src/engine/aggregateOperator.js";
import { DDSketch } from "../src/engine/algebras/ddSketch.js";
import { decodeKeyState, encodeKeyState, type EncodedKeyState } from "../src/engine/stateCodec.js";
import type { FeatureColumn } from "../src/engine/windowReaders.js";
import { HyperLogLog } from "../src/engine/algebras/hyperLogLog.js";
import { compareValues } from "../src/engine/algebras/valueCounts.js";
import { accepted, grid } from "./helpers/eventTime.js";
import {
  approxDistinct,
  approxQuantile,
  count,
  dataset,
  decayedSum,
  distinctCount,
  FeatureStore,
  first,
  firstK,
  forever,
  hopping,
  last,
  lastK,
  t,
  topK,
  tumbling,
} from "../src/index.js";

const BASE = Date.UTC(2025, 0, 1);
const HALF_LIFE = 10;

interface Ev {
  key: string;
  v: number | null;
  s: string | null;
  ts: number;
}

/** The window's events in event-time order, ties in arrival order (acc is in arrival order). */
function windowOf(acc: readonly Ev[], key: string, from: number, at: number): Ev[] {
  return acc
    .map((e, n) => ({ e, n }))
    .filter(({ e }) => e.key === key && e.ts >= from && e.ts <= at)
    .sort((a, b) => a.e.ts - b.e.ts || a.n - b.n)
    .map(({ e }) => e);
}

function top(values: readonly string[], k: number): Array<{ value: string; count: number }> {
  const counts = new Map<string, number>();
  for (const s of values) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts]
    .map(([value, c]) => ({ value, count: c }))
    .sort((a, b) => b.count - a.count || compareValues(a.value, b.value))
    .slice(0, k);
}

/** Σ v·2^(−(at − ts)/h) over the window's terms within 64 half-lives, and Σ of their magnitudes. */
function decayed(win: readonly Ev[], at: number): { sum: number; scale: number } {
  let sum = 0;
  let scale = 0;
  for (const e of win) {
    if (e.v === null || e.ts < at - 64 * HALF_LIFE) continue;
    const x = e.v * Math.pow(2, -(at - e.ts) / HALF_LIFE);
    sum += x;
    scale += Math.abs(x);
  }
  return { sum, scale };
}

describe("tiled window readers", () => {
  it("equal an untiled replay exactly, and each window's definition (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          lateness: grid(20),
          hop: grid(10).map((x) => x + 100),
          hops: fc.integer({ min: 1, max: 5 }),
          steps: fc.array(
            fc.record({
              key: fc.constantFrom("a", "b"),
              dt: grid(4),
              back: fc.oneof(fc.constant(0), grid(30)),
              v: fc.oneof(fc.constant(null), fc.integer({ min: -5, max: 5 }), fc.double({ min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true })),
              s: fc.oneof(fc.constant(null), fc.constantFrom("x", "y", "z", "")),
              flush: fc.boolean(),
            }),
            { minLength: 1, maxLength: 90 },
          ),
          restart: fc.boolean(),
        }),
        async (sc) => {
          const ev = dataset("ev", { key: t.string(), v: t.float().optional(), s: t.string().optional(), ts: t.timestamp() }, { timestamp: "ts", lateness: sc.lateness });
          const size = sc.hop * sc.hops;
          const hop = hopping(size, sc.hop);
          const table = ev
            .groupBy("key")
            .aggregate({
              n: count({ window: hop }),
              fst: first("s", { window: hop }),
              lst: last("v", { window: hop }),
              fk: firstK("s", { window: hop, k: 3 }),
              lk: lastK("v", { window: tumbling(sc.hop), k: 2 }),
              dc: distinctCount("s", { window: hop }),
              tk: topK("s", { window: hop, k: 2 }),
              ad: approxDistinct("v", { window: hop, precision: 4 }),
              med: approxQuantile("v", { window: hop, q: 0.5, accuracy: 0.02 }),
              ds: decayedSum("v", { window: hop, halfLife: HALF_LIFE }),
              fst_ever: first("v", { window: forever() }),
              lst_ever: last("s", { window: forever() }),
              lk_ever: lastK("s", { window: forever(), k: 3 }),
              tk_ever: topK("s", { window: forever(), k: 3 }),
              ad_ever: approxDistinct("s", { window: forever(), precision: 4 }),
              q_ever: approxQuantile("v", { window: forever(), q: 0.9, accuracy: 0.02 }),
              ds_ever: decayedSum("v", { window: forever(), halfLife: HALF_LIFE }),
            })
            .as("tiled_rich");
          const dir = sc.restart ? await mkdtemp(join(tmpdir(), "freshet-tiles-rich-")) : undefined;
          try {
            let store = await FeatureStore.open({ clock: "event", ...(dir === undefined ? {} : { dir }) });
            await store.apply([ev, table]);
            let now = BASE;
            const sent: Ev[] = [];
            let batch: Ev[] = [];
            for (const [i, s] of sc.steps.entries()) {
              now += s.dt;
              const e = { key: s.key, v: s.v, s: s.s, ts: now - s.back };
              sent.push(e);
              batch.push(e);
              if (s.flush) {
                await store.push("ev", batch);
                batch = [];
              }
              if (dir !== undefined && i === Math.floor(sc.steps.length / 2)) {
                await store.push("ev", batch);
                batch = [];
                await store.close();
                store = await FeatureStore.open({ clock: "event", dir });
                await store.apply([ev, table]);
              }
            }
            await store.push("ev", batch);
            const acc = accepted(sent, sc.lateness);
            const wm = Math.max(...acc.map((e) => e.ts)) - sc.lateness;
            for (const at of [wm, wm + 1, wm + sc.hop, wm + size + sc.hop]) {
              const online = await store.getOnline(table, [{ key: "a" }, { key: "b" }], { at });
              const offline = await store.getHistorical(table, [{ key: "a", ts: at }, { key: "b", ts: at }]);
              expect(online).toEqual(offline.map(({ ts: _ts, ...r }) => r));
              for (const row of online) {
                const start = Math.floor(at / sc.hop) * sc.hop + sc.hop - size;
                const win = windowOf(acc, row.key, start, at);
                const tumble = windowOf(acc, row.key, Math.floor(at / sc.hop) * sc.hop, at);
                const ever = windowOf(acc, row.key, Number.NEGATIVE_INFINITY, at);
                const strs = (es: Ev[]) => es.filter((e) => e.s !== null).map((e) => e.s as string);
                const nums = (es: Ev[]) => es.filter((e) => e.v !== null).map((e) => e.v as number);
                expect(row.n).toBe(win.length);
                expect(row.fst).toBe(strs(win)[0] ?? null);
                expect(row.lst).toBe(nums(win).at(-1) ?? null);
                expect(row.fk).toEqual(strs(win).slice(0, 3));
                expect(row.lk).toEqual(nums(tumble).slice(-2).reverse());
                expect(row.dc).toBe(new Set(strs(win)).size);
                expect(row.tk).toEqual(top(strs(win), 2));
                const hll = new HyperLogLog(4);
                for (const x of nums(win)) hll.add(x);
                expect(row.ad).toBe(hll.estimate());
                const dd = new DDSketch(0.02);
                for (const x of nums(win)) dd.add(x);
                expect(row.med).toBe(dd.count === 0 ? null : dd.quantile(0.5));
                expect(row.fst_ever).toBe(nums(ever)[0] ?? null);
                expect(row.lst_ever).toBe(strs(ever).at(-1) ?? null);
                expect(row.lk_ever).toEqual(strs(ever).slice(-3).reverse());
                expect(row.tk_ever).toEqual(top(strs(ever), 3));
                const hllEver = new HyperLogLog(4);
                for (const x of strs(ever)) hllEver.add(x);
                expect(row.ad_ever).toBe(hllEver.estimate());
                const ddEver = new DDSketch(0.02);
                for (const x of nums(ever)) ddEver.add(x);
                expect(row.q_ever).toBe(ddEver.count === 0 ? null : ddEver.quantile(0.9));
                for (const [name, w] of [["ds", win], ["ds_ever", ever]] as const) {
                  const want = decayed(w, at);
                  expect(Math.abs((row[name] as number) - want.sum)).toBeLessThanOrEqual(1e-12 * want.scale + 1e-300);
                }
              }
            }
            // Events the watermark passed by more than the decayedSum span were dropped into tiles.
            const keep = 64 * HALF_LIFE; // the forever window's decayedSum
            const kept = store.stats().tables["tiled_rich"]?.retainedEvents ?? 0;
            expect(kept).toBeLessThanOrEqual(acc.filter((e) => e.ts >= wm - keep).length + acc.length / 2 + 1);
            await store.close();
          } finally {
            if (dir !== undefined) await rm(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 120, seed: 20261201 },
    );
  }, 300_000);

  it("a state written before its table was tiled (every event, no tiles) decodes, drops into tiles and reads the same", () => {
    const spec = {
      keys: ["k"],
      aggregations: {
        lst: { kind: "last" as const, field: "s", window: Number.POSITIVE_INFINITY },
        tk: { kind: "topK" as const, field: "s", window: 4000, hop: 1000, k: 2 },
        q: { kind: "approxQuantile" as const, field: "v", window: Number.POSITIVE_INFINITY, q: 0.5 },
      },
    };
    const rows = Array.from({ length: 60 }, (_, i) => ({ k: "a", s: ["x", "y", "z"][i % 3 === 0 ? 0 : i % 7 === 0 ? 2 : 1], v: (i * 37) % 11 }));
    const ts = Float64Array.from(rows, (_, i) => BASE + 100 * i);
    const op = new AggregateOperator("t", spec);
    op.process(rows, ts, false);
    // What an untiled version wrote: the events, no tiles.
    const { tiles: _tiles, ...untiled } = encodeKeyState(op.states.get("a") as NonNullable<ReturnType<typeof op.states.get>>);
    const restored = new AggregateOperator("t", spec);
    restored.adopt(decodeKeyState(untiled as EncodedKeyState, restored.layout));
    const wm = BASE + 100 * 50;
    op.advanceWatermark(wm);
    restored.advanceWatermark(wm);
    for (const at of [wm, wm + 350, wm + 2000]) {
      const read = (o: AggregateOperator) => {
        const out: FeatureColumn[] = [new Array<unknown>(1), new Array<unknown>(1), new Float64Array(1)];
        o.read(["a"], at, out, 0);
        return out.map((c) => c[0]);
      };
      expect(read(restored)).toEqual(read(op));
    }
    // A read dropped what the watermark passed (adopted keys compact when next touched).
    expect(restored.retainedEvents()).toBe(10);
    expect(op.retainedEvents()).toBe(10);
  });
});
