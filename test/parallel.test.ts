/**
 * A replay spread over aggregate worker threads (key groups per worker) must
 * give exactly what the single-thread replay gives: the same history rows,
 * the same online state afterwards, the same dead letters, whether the table
 * started empty, with state from earlier pushes, or with state reloaded from
 * LMDB, and even when the replay fails half-way.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { WorkerPool } from "../src/engine/parallel/pool.js";
import { avg, count, dataset, DefinitionError, FeatureStore, max, min, sum, t, type EmittedRows } from "../src/index.js";

const BASE = Date.UTC(2024, 0, 1);

afterAll(async () => {
  await WorkerPool.shutdown();
});

function definitions(lateness: number, windows: readonly [number, number, number], throwOn?: number) {
  const ev = dataset("ev", { k: t.string(), n: t.int(), v: t.float().optional(), ts: t.timestamp() }, { timestamp: "ts", lateness });
  const [w1, w2, w3] = windows;
  const byKey = ev
    .filter((e) => {
      if (e.n === throwOn) throw new Error(`step failed on n = ${e.n}`);
      return e.n % 7 !== 3;
    })
    .groupBy("k")
    .aggregate({ c: count({ window: w1 }), s: sum("v", { window: w2 }), m: avg("v", { window: w3 }), lo: min("v", { window: w1 }), hi: max("v", { window: w3 }) })
    .as("by_key");
  // A composite key of a string and a number: a second table on the same source.
  const byPair = ev.groupBy("k", "n").aggregate({ c: count({ window: w2 }), s: sum("v", { window: w3 }) }).as("by_pair");
  return { ev, byKey, byPair };
}

interface Ev {
  k: string;
  n: number;
  v: number | null;
  ts: number;
}

/** Every emitted row as text, sorted: the history a replay produced, independent of delivery order. */
function recorder(): { sink: (table: string, r: EmittedRows) => void; rows: () => string[]; perKeyOrdered: () => boolean } {
  const out: string[] = [];
  const lastTs = new Map<string, number>();
  let ordered = true;
  return {
    sink: (table, r) => {
      for (let i = 0; i < r.length; i++) {
        const key = `${table}|${JSON.stringify(r.keys[i])}`;
        const ts = r.ts[i] as number;
        if (ts < (lastTs.get(key) ?? Number.NEGATIVE_INFINITY)) ordered = false;
        lastTs.set(key, ts);
        out.push(`${key}|${ts}|${r.values.map((v) => String(v[i])).join(",")}`);
      }
    },
    rows: () => out.slice().sort(),
    perKeyOrdered: () => ordered,
  };
}

async function readAll(store: FeatureStore, events: readonly Ev[]): Promise<unknown[]> {
  const keys = [...new Set(events.map((e) => e.k))].sort().map((k) => ({ k }));
  const pairs = [...new Set(events.map((e) => `${e.k}\u0000${e.n}`))].sort().map((s) => {
    const [k, n] = s.split("\u0000");
    return { k: k as string, n: Number(n) };
  });
  const at = store.now("by_key") ?? new Date(BASE);
  return [
    await store.getOnline("by_key", keys),
    await store.getOnline("by_pair", pairs),
    await store.getOnline("by_key", keys, { at: at.getTime() + 1500 }),
    // State bytes count allocated capacity, which depends on how arrays grew: compare the rest.
    ((st) => ({ datasets: st.datasets, tables: Object.fromEntries(Object.entries(st.tables).map(([n, v]) => [n, { keys: v.keys, retainedEvents: v.retainedEvents }])) }))(store.stats()),
    store.deadLetters().map((d) => [d.reason, d.eventTime]),
  ];
}

const scenario = fc.record({
  lateness: fc.integer({ min: 0, max: 2000 }),
  windows: fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 3000 })),
  keys: fc.integer({ min: 1, max: 40 }),
  steps: fc.array(
    fc.record({
      key: fc.nat(),
      n: fc.integer({ min: 0, max: 20 }),
      dt: fc.integer({ min: 0, max: 400 }),
      back: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3000 })),
      v: fc.oneof(fc.constant(null), fc.integer({ min: -50, max: 50 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
    }),
    { minLength: 1, maxLength: 300 },
  ),
  pushFirst: fc.integer({ min: 0, max: 60 }),
  batchSize: fc.integer({ min: 1, max: 50 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function eventsOf(sc: Scenario): Ev[] {
  let clock = BASE;
  return sc.steps.map((s) => {
    clock += s.dt;
    return { k: `key-${s.key % sc.keys}`, n: s.n, v: s.v, ts: clock - s.back };
  });
}

/** Pushes the first events online, then replays the rest with the given number of workers. */
async function run(sc: Scenario, workers: number) {
  const d = definitions(sc.lateness, sc.windows);
  const events = eventsOf(sc);
  const store = await FeatureStore.open({ clock: "event" });
  await store.apply([d.ev, d.byKey, d.byPair]);
  const pushed = events.slice(0, sc.pushFirst);
  if (pushed.length > 0) await store.push("ev", pushed);
  const rec = recorder();
  const report = await store.materializeOffline({ ev: events.slice(sc.pushFirst) }, { workers, batchSize: sc.batchSize, onTableRows: rec.sink });
  const reads = await readAll(store, events);
  await store.close();
  return { rows: rec.rows(), ordered: rec.perKeyOrdered(), report, reads };
}

describe("parallel replay (aggregate worker threads)", () => {
  it("gives the same history rows, online state and dead letters as the single-thread replay (property)", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const one = await run(sc, 0);
        const par = await run(sc, 2);
        expect(par.rows).toEqual(one.rows);
        expect(par.ordered).toBe(true);
        expect(par.report).toEqual(one.report);
        expect(par.reads).toEqual(one.reads);
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it("picks up state reloaded from LMDB and persists the state it hands back", async () => {
    const dir = await mkdtemp(join(tmpdir(), "freshet-parallel-"));
    const single = await mkdtemp(join(tmpdir(), "freshet-parallel-"));
    try {
      const events: Ev[] = Array.from({ length: 3000 }, (_, i) => ({ k: `key-${(i * 7) % 23}`, n: i % 11, v: i % 13 === 0 ? null : (i % 17) - 5, ts: BASE + i * 100 }));
      const results: unknown[][] = [];
      for (const [path, workers] of [
        [dir, 2],
        [single, 0],
      ] as const) {
        const d = definitions(1000, [2000, 60_000, 300_000]);
        let store = await FeatureStore.open({ dir: path, clock: "event" });
        await store.apply([d.ev, d.byKey, d.byPair]);
        await store.push("ev", events.slice(0, 1000));
        await store.close();
        store = await FeatureStore.open({ dir: path, clock: "event" });
        await store.apply([d.ev, d.byKey, d.byPair]);
        const rec = recorder();
        await store.materializeOffline({ ev: events.slice(1000, 2500) }, { workers, batchSize: 128, onTableRows: rec.sink });
        await store.close();
        store = await FeatureStore.open({ dir: path, clock: "event" });
        await store.apply([d.ev, d.byKey, d.byPair]);
        await store.push("ev", events.slice(2500));
        results.push([rec.rows(), await readAll(store, events)]);
        await store.close();
      }
      const [par, one] = results as [unknown[], unknown[]];
      expect((par[0] as string[]).length).toBeGreaterThan(1000);
      expect(par).toEqual(one);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(single, { recursive: true, force: true });
    }
  }, 60_000);

  it("keeps the state built so far when the replay fails half-way", async () => {
    const events: Ev[] = Array.from({ length: 2000 }, (_, i) => ({ k: `key-${i % 9}`, n: i % 5, v: i % 4, ts: BASE + i * 1000 }));
    for (const workers of [2, 0]) {
      const d = definitions(0, [5000, 50_000, 200_000]);
      const store = await FeatureStore.open({ clock: "event" });
      await store.apply([d.ev, d.byKey, d.byPair]);
      let calls = 0;
      const failing = (): void => {
        if (++calls === 5) throw new Error("sink failed");
      };
      await expect(store.materializeOffline({ ev: events }, { workers, batchSize: 64, onTableRows: failing })).rejects.toThrow("sink failed");
      // Whatever was accepted before the failure is in the state, nothing else:
      // the same as a store that was pushed exactly those events.
      const accepted = store.stats().datasets["ev"]?.accepted ?? 0;
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThan(events.length);
      const reference = await FeatureStore.open({ clock: "event" });
      await reference.apply([d.ev, d.byKey, d.byPair]);
      await reference.push("ev", events.slice(0, accepted));
      expect(await readAll(store, events)).toEqual(await readAll(reference, events));
      // And the store goes on: later events build on that state.
      await store.push("ev", events.slice(accepted));
      await reference.push("ev", events.slice(accepted));
      expect(await readAll(store, events)).toEqual(await readAll(reference, events));
      await store.close();
      await reference.close();
    }
  }, 60_000);

  it("a step that throws leaves the source, its history and its tables in agreement", async () => {
    const events: Ev[] = Array.from({ length: 1000 }, (_, i) => ({ k: `key-${i % 9}`, n: i === 700 ? 99 : i % 5, v: i % 4, ts: BASE + i * 1000 }));
    for (const workers of [2, 0]) {
      const d = definitions(0, [5000, 50_000, 200_000], 99);
      const store = await FeatureStore.open({ clock: "event" });
      await store.apply([d.ev, d.byKey, d.byPair]);
      await expect(store.materializeOffline({ ev: events }, { workers, batchSize: 100 })).rejects.toThrow("step failed");
      // Batches before the one holding event 700 are in; that batch is nowhere.
      expect(store.stats().datasets["ev"]?.accepted).toBe(700);
      const ok = definitions(0, [5000, 50_000, 200_000]);
      const reference = await FeatureStore.open({ clock: "event" });
      await reference.apply([ok.ev, ok.byKey, ok.byPair]);
      await reference.push("ev", events.slice(0, 700));
      expect(await readAll(store, events)).toEqual(await readAll(reference, events));
      const entities = events.slice(0, 700).filter((_, i) => i % 50 === 0).map((e) => ({ k: e.k, ts: e.ts + 500 }));
      expect(await store.getHistorical("by_key", entities)).toEqual(await reference.getHistorical("by_key", entities));
      await store.close();
      await reference.close();
    }
  }, 60_000);

  it("reads and a second replay started during a parallel replay wait for it", async () => {
    const events: Ev[] = Array.from({ length: 4000 }, (_, i) => ({ k: `key-${i % 13}`, n: i % 6, v: i % 10, ts: BASE + i * 500 }));
    const results: unknown[] = [];
    for (const concurrent of [true, false]) {
      const d = definitions(0, [5000, 60_000, 600_000]);
      const store = await FeatureStore.open({ clock: "event" });
      await store.apply([d.ev, d.byKey, d.byPair]);
      const rec = recorder();
      const first = store.materializeOffline({ ev: events.slice(0, 2500) }, { workers: 2, batchSize: 100, onTableRows: rec.sink });
      if (concurrent) {
        // Not awaited: both calls and the read are in flight together.
        const second = store.materializeOffline({ ev: events.slice(2500) }, { workers: 2, batchSize: 100, onTableRows: rec.sink });
        const read = store.getOnline("by_key", [{ k: "key-0" }]);
        await Promise.all([first, second]);
        results.push([await read, rec.rows(), await readAll(store, events)]);
      } else {
        await first;
        await store.materializeOffline({ ev: events.slice(2500) }, { workers: 0, batchSize: 100, onTableRows: rec.sink });
        results.push([await store.getOnline("by_key", [{ k: "key-0" }]), rec.rows(), await readAll(store, events)]);
      }
      await store.close();
    }
    // The read was issued after the second call was queued: it waits for both.
    const [conc, seq] = results as [[unknown[], string[], unknown[]], [unknown[], string[], unknown[]]];
    expect(conc[1]).toEqual(seq[1]);
    expect(conc[2]).toEqual(seq[2]);
    expect(conc[0]).toEqual(seq[0]);
    expect((seq[0] as Array<{ c: number }>)[0]?.c).toBeGreaterThan(0);
  }, 60_000);

  it("rejects a bad workers option with a typed error naming it", async () => {
    const d = definitions(0, [1000, 1000, 1000]);
    const store = await FeatureStore.open();
    await store.apply([d.ev, d.byKey]);
    await expect(store.materializeOffline({ ev: [] }, { workers: -1 })).rejects.toThrow(DefinitionError);
    await expect(store.materializeOffline({ ev: [] }, { workers: 1.5 })).rejects.toThrow(/"workers"/);
    await store.close();
  });
});
