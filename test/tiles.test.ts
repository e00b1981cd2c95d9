/**
 * Tiles: tables whose windows are all tumbling, hopping (size a multiple of
 * the hop) or forever, with count/sum/avg/variance/stddev/min/max, drop events once
 * the watermark passes them and keep prefix snapshots per tile. Checked:
 *   - values equal an untiled replay bit for bit and the windows' definition
 *     (property test with out-of-order events, random batches, restarts);
 *   - the state of a 7-day window in 12-hour tiles at 1 event/s is at most
 *     1 KiB per key, against megabytes for the exact sliding 7-day window;
 *   - so is a `latest()` table's (forever windows of `last`), and a topK and
 *     a lastK over the 7-day window keep a few KiB per key (their algebras'
 *     states per tile; test/tilesRich.property.test.ts checks their values).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accepted, grid } from "./helpers/eventTime.js";
import { avg, count, dataset, FeatureStore, forever, hopping, lastK, max, min, sliding, sum, t, topK, tumbling, variance } from "../src/index.js";

const BASE = Date.UTC(2025, 0, 1);


describe("tiled windows", () => {
  it("equal an untiled replay bit for bit, and each window's definition (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          lateness: grid(20),
          hop: grid(10).map((x) => x + 100),
          hops: fc.integer({ min: 1, max: 6 }),
          steps: fc.array(
            fc.record({ key: fc.constantFrom("a", "b"), dt: grid(5), back: fc.oneof(fc.constant(0), grid(30)), v: fc.oneof(fc.constant(null), fc.double({ min: -1e3, max: 1e3, noNaN: true })), flush: fc.boolean() }),
            { minLength: 1, maxLength: 80 },
          ),
          restart: fc.boolean(),
        }),
        async (sc) => {
          const ev = dataset("ev", { key: t.string(), v: t.float().optional(), ts: t.timestamp() }, { timestamp: "ts", lateness: sc.lateness });
          const size = sc.hop * sc.hops;
          const table = ev
            .groupBy("key")
            .aggregate({
              n: count({ window: hopping(size, sc.hop) }),
              s: sum("v", { window: hopping(size, sc.hop) }),
              m: avg("v", { window: tumbling(sc.hop) }),
              var_ever: variance("v", { window: forever() }),
              n_ever: count({ window: forever() }),
              hi: max("v", { window: hopping(size, sc.hop) }),
              lo_day: min("v", { window: tumbling(sc.hop) }),
              hi_ever: max("v", { window: forever() }),
            })
            .as("tiled");
          const dir = sc.restart ? await mkdtemp(join(tmpdir(), "freshet-tiles-")) : undefined;
          try {
            let store = await FeatureStore.open({ clock: "event", ...(dir === undefined ? {} : { dir }) });
            await store.apply([ev, table]);
            let now = BASE;
            const sent: Array<{ key: string; v: number | null; ts: number }> = [];
            let batch: typeof sent = [];
            for (const [i, s] of sc.steps.entries()) {
              now += s.dt;
              const e = { key: s.key, v: s.v, ts: now - s.back };
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
            for (const at of [wm, wm + sc.hop, wm + size + sc.hop]) {
              const online = await store.getOnline(table, [{ key: "a" }, { key: "b" }], { at });
              const offline = await store.getHistorical(table, [{ key: "a", ts: at }, { key: "b", ts: at }]);
              // Bit for bit: the untiled replay behind getHistorical computes the same numbers.
              expect(online).toEqual(offline.map(({ ts: _ts, ...r }) => r));
              for (const row of online) {
                const mine = acc.filter((e) => e.key === row.key && e.ts <= at);
                const start = Math.floor(at / sc.hop) * sc.hop + sc.hop - size;
                const hop = mine.filter((e) => e.ts >= start);
                const tumble = mine.filter((e) => e.ts >= Math.floor(at / sc.hop) * sc.hop).filter((e) => e.v !== null);
                const vals = mine.filter((e) => e.v !== null).map((e) => e.v as number);
                expect(row.n).toBe(hop.length);
                expect(row.s).toBeCloseTo(hop.reduce((a, e) => a + (e.v ?? 0), 0), 6);
                if (tumble.length === 0) expect(row.m).toBeNull();
                else expect(row.m).toBeCloseTo(tumble.reduce((a, e) => a + (e.v as number), 0) / tumble.length, 6);
                expect(row.n_ever).toBe(mine.length);
                const hv = hop.filter((e) => e.v !== null).map((e) => e.v as number);
                expect(row.hi).toBe(hv.length === 0 ? null : Math.max(...hv));
                expect(row.lo_day).toBe(tumble.length === 0 ? null : Math.min(...tumble.map((e) => e.v as number)));
                expect(row.hi_ever).toBe(vals.length === 0 ? null : Math.max(...vals));
                if (vals.length === 0) expect(row.var_ever).toBeNull();
                else {
                  const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
                  expect(row.var_ever).toBeCloseTo(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length, 3);
                }
              }
            }
            // Events the watermark passed were dropped into tiles.
            const kept = store.stats().tables["tiled"]?.retainedEvents ?? 0;
            expect(kept).toBeLessThanOrEqual(acc.filter((e) => e.ts >= wm).length + acc.length / 2 + 1);
            await store.close();
          } finally {
            if (dir !== undefined) await rm(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 120, seed: 20261128 },
    );
  });

  it("a 7-day window in 12-hour tiles (hopping, or sliding with a tile) keeps at most 1 KiB per key at 1 event/s; the exact sliding 7-day window keeps every event", async () => {
    const DAY = 86_400_000;
    const reading = dataset("reading", { sensor: t.string(), value: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
    const tiled = reading
      .groupBy("sensor")
      .aggregate({ n_7d: count({ window: hopping("7d", "12h") }), sum_7d: sum("value", { window: hopping("7d", "12h") }), avg_7d: avg("value", { window: hopping("7d", "12h") }) })
      .as("tiled_7d");
    const exactWeek = reading
      .groupBy("sensor")
      .aggregate({ n_7d: count({ window: "7d" }), sum_7d: sum("value", { window: "7d" }), avg_7d: avg("value", { window: "7d" }) })
      .as("sliding_7d");
    const week = sliding("7d", { tile: "12h" });
    const slidingTiled = reading
      .groupBy("sensor")
      .aggregate({ n_7d: count({ window: week }), sum_7d: sum("value", { window: week }), avg_7d: avg("value", { window: week }) })
      .as("sliding_tiled_7d");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([reading, tiled, exactWeek, slidingTiled]);
    // 8 days at one event per second, pushed an hour at a time.
    const seconds = 8 * 86_400;
    for (let h = 0; h < seconds / 3600; h++) {
      await store.push(
        "reading",
        Array.from({ length: 3600 }, (_, i) => {
          const s = h * 3600 + i;
          return { sensor: "s1", value: (s % 100) / 10, ts: BASE + s * 1000 };
        }),
      );
    }
    const stats = store.stats().tables;
    const tiledBytes = stats["tiled_7d"]?.stateBytes ?? Number.POSITIVE_INFINITY;
    const slidingBytes = stats["sliding_7d"]?.stateBytes ?? 0;
    const slidingTiledBytes = stats["sliding_tiled_7d"]?.stateBytes ?? Number.POSITIVE_INFINITY;
    expect(tiledBytes).toBeLessThanOrEqual(1024);
    expect(slidingTiledBytes).toBeLessThanOrEqual(1024);
    expect(slidingBytes).toBeGreaterThan(7 * 86_400 * 8 * 4); // at least 4 numbers per event of the last 7 days
    const at = BASE + (seconds - 1) * 1000;
    const [row] = await store.getOnline(tiled, [{ sensor: "s1" }], { at });
    // The 12-hour tiles: the window starts at the tile boundary ⌊at / 12h⌋·12h + 12h − 7d.
    const start = Math.floor(at / (DAY / 2)) * (DAY / 2) + DAY / 2 - 7 * DAY;
    const n = (at - start) / 1000 + 1;
    expect(row?.n_7d).toBe(n);
    expect(row?.avg_7d).toBeCloseTo(4.95, 1);
    expect((await store.getHistorical(tiled, [{ sensor: "s1", ts: at }]))[0]).toEqual({ ...row, ts: at });
    // Sliding with 12-hour tiles: from ⌊(at − 7d) / 12h⌋·12h, so at least the exact 7 days and less than 12 hours more.
    // Online at the newest time; point in time (the same windows) at earlier ones.
    const [onlineTiled] = await store.getOnline(slidingTiled, [{ sensor: "s1" }], { at });
    expect((await store.getHistorical(slidingTiled, [{ sensor: "s1", ts: at }]))[0]).toEqual({ ...onlineTiled, ts: at });
    for (const when of [at, at - 3_600_000, at - 43_199_000]) {
      const [tiledRow] = await store.getHistorical(slidingTiled, [{ sensor: "s1", ts: when }]);
      const [exact] = await store.getHistorical(exactWeek, [{ sensor: "s1", ts: when }]);
      const from = Math.floor((when - 7 * DAY) / (DAY / 2)) * (DAY / 2);
      expect(tiledRow?.n_7d).toBe((when - from) / 1000 + 1);
      expect(exact?.n_7d).toBe(7 * 86_400);
      expect(tiledRow?.n_7d).toBeGreaterThanOrEqual(exact?.n_7d ?? Infinity);
      expect(tiledRow?.n_7d).toBeLessThan((exact?.n_7d ?? 0) + 43_200 + 1);
    }
    expect(() => sliding("7d", { tile: "5h" })).toThrow(/whole number of tiles/);
    console.log(`7-day window at 1 event/s, state of one key: ${tiledBytes} bytes hopping in 12-hour tiles, ${slidingTiledBytes} bytes sliding in 12-hour tiles, ${slidingBytes} bytes exact sliding`);
    await store.close();
  }, 120_000);

  it("a latest() table keeps under 512 bytes per key, and topK + lastK over 7 days in 12-hour tiles under 8 KiB, at 1 event/s", async () => {
    const STATUSES = ["ok", "warm", "hot", "cold", "idle", "busy", "fault", "reset", "cal", "sleep", "wake", "test"];
    const reading = dataset("reading", { sensor: t.string(), value: t.float(), status: t.string(), ts: t.timestamp() }, { timestamp: "ts" });
    const latest = reading.groupBy("sensor").latest().as("latest_reading");
    const week = reading
      .groupBy("sensor")
      .aggregate({ top_status_7d: topK("status", { window: hopping("7d", "12h"), k: 3 }), last_values_7d: lastK("value", { window: hopping("7d", "12h"), k: 5 }) })
      .as("status_7d");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([reading, latest, week]);
    // 8 days at one event per second, pushed an hour at a time; statuses cycle with period 97 s.
    const seconds = 8 * 86_400;
    const status = (s: number): string => STATUSES[(s % 97) % STATUSES.length] as string;
    for (let h = 0; h < seconds / 3600; h++) {
      await store.push(
        "reading",
        Array.from({ length: 3600 }, (_, i) => {
          const s = h * 3600 + i;
          return { sensor: "s1", value: (s % 100) / 10, status: status(s), ts: BASE + s * 1000 };
        }),
      );
    }
    const stats = store.stats().tables;
    const latestBytes = stats["latest_reading"]?.stateBytes ?? Number.POSITIVE_INFINITY;
    const weekBytes = stats["status_7d"]?.stateBytes ?? Number.POSITIVE_INFINITY;
    expect(latestBytes).toBeLessThanOrEqual(512);
    expect(weekBytes).toBeLessThanOrEqual(8 * 1024);
    const at = BASE + (seconds - 1) * 1000;
    const [row] = await store.getOnline(latest, [{ sensor: "s1" }], { at });
    expect(row).toEqual({ sensor: "s1", value: ((seconds - 1) % 100) / 10, status: status(seconds - 1), ts: at });
    const [w] = await store.getOnline(week, [{ sensor: "s1" }], { at });
    // The window from the 12-hour boundary ⌊at / 12h⌋·12h + 12h − 7d to at.
    const HALF_DAY = 43_200_000;
    const from = (Math.floor(at / HALF_DAY) * HALF_DAY + HALF_DAY - 7 * 2 * HALF_DAY - BASE) / 1000;
    const counts = new Map<string, number>();
    for (let s = from; s < seconds; s++) counts.set(status(s), (counts.get(status(s)) ?? 0) + 1);
    const want = [...counts].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1));
    expect(w?.top_status_7d).toEqual(want.slice(0, 3));
    expect(w?.last_values_7d).toEqual([1, 2, 3, 4, 5].map((d) => ((seconds - d) % 100) / 10));
    expect((await store.getHistorical(week, [{ sensor: "s1", ts: at }]))[0]).toEqual({ ...w, ts: at });
    expect((await store.getHistorical(latest, [{ sensor: "s1", ts: at }]))[0]).toEqual({ ...row, ts: at });
    console.log(`1 event/s for 8 days, state of one key: latest() ${latestBytes} bytes; topK + lastK over hopping("7d", "12h") ${weekBytes} bytes`);
    await store.close();
  }, 120_000);
});
