import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { count, dataset, forever, max, sum, t } from "../index.js";
import { FeatureStore } from "../featureStore/featureStore.js";
import { MemoryStream } from "../sources/memory/memoryStream.js";
import { SchemaError } from "../errors.js";
import { OnlineJob } from "./onlineJob.js";
import { MemoryOnlineStore } from "../stores/online/memoryOnlineStore.js";

const clicks = dataset("clicks", { user: t.string(), amount: t.float(), at: t.timestamp() }, { timestamp: "at" });
const perUser = clicks.groupBy("user").aggregate({ n: count({ window: forever() }), total: sum("amount", { window: "1h" }), top: max("amount", { window: "10m" }) }).as("per_user");

const T0 = Date.UTC(2024, 0, 1);
function events(from: number, n: number): Array<{ user: string; amount: number; at: string }> {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return { user: `u${(i * 7) % 5}`, amount: (i % 13) + 0.5, at: new Date(T0 + i * 1_000).toISOString() };
  });
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "freshet-job-"));
  dirs.push(d);
  return d;
}

async function offline(rows: readonly unknown[], at: number): Promise<unknown[]> {
  const s = await FeatureStore.open({ clock: "event" });
  await s.apply([clicks, perUser]);
  await s.materializeOffline({ clicks: rows });
  const out = await s.getOnline(perUser, ["u0", "u1", "u2", "u3", "u4"].map((user) => ({ user })), { at });
  await s.close();
  return out;
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("OnlineJob", () => {
  it("pushes a stream into the tables, checkpoints positions with the state, and a restarted job resumes after them", async () => {
    const dir = tempDir();
    const stream = new MemoryStream();
    const all = events(0, 5_000);
    stream.append(all.slice(0, 3_000));
    let store = await FeatureStore.open({ dir, clock: "event", state: "checkpoints" });
    await store.apply([clicks, perUser]);
    let job = await OnlineJob.start(store, [{ dataset: "clicks", source: stream.source("job") }], { batchSize: 700, checkpointEveryMs: 50 });
    await until(() => job.stats().sources[0]?.read === 3_000);
    await job.stop();
    expect(store.savedPositions()).toEqual({ clicks: 3_000 });
    expect(stream.acked.get("job")).toBe(3_000);
    expect(job.stats().checkpoints).toBeGreaterThanOrEqual(1);
    await store.close();

    stream.append(all.slice(3_000));
    store = await FeatureStore.open({ dir, clock: "event", state: "checkpoints" });
    await store.apply([clicks, perUser]);
    expect(store.stats().datasets.clicks?.accepted).toBe(3_000);
    job = await OnlineJob.start(store, [{ dataset: "clicks", source: stream.source("job") }], { batchSize: 700 });
    await until(() => job.stats().sources[0]?.read === 2_000);
    await job.stop();
    expect(store.stats().datasets.clicks?.accepted).toBe(5_000);
    const at = T0 + 4_999_000;
    const online = await store.getOnline(perUser, ["u0", "u1", "u2", "u3", "u4"].map((user) => ({ user })), { at });
    expect(online).toEqual(await offline(all, at));
    expect(online[0]).toMatchObject({ user: "u0", n: 1_000 });
    await store.close();
  });

  it.each(["truncated", "bit-flipped"] as const)("restarts from the checkpoint before a %s newest one and still ends with exact values", async (damage) => {
    const dir = tempDir();
    const stream = new MemoryStream();
    const all = events(0, 4_000);
    let store = await FeatureStore.open({ dir, clock: "event", state: "checkpoints" });
    await store.apply([clicks, perUser]);
    let job = await OnlineJob.start(store, [{ dataset: "clicks", source: stream.source("job") }], { batchSize: 1_000, checkpointEveryMs: 60_000 });
    // A checkpoint per 1,000 rows: positions 1,000, 2,000, 3,000.
    for (const n of [1_000, 2_000, 3_000]) {
      stream.append(all.slice(n - 1_000, n));
      await until(() => job.stats().sources[0]?.read === n);
      await job.checkpoint();
    }
    await job.stop();
    await store.close();
    // The last two checkpoint files both hold position 3,000 (the last checkpoint, and close's commit): damage both.
    const ckpts = join(dir, "checkpoints");
    for (const name of readdirSync(ckpts).filter((f) => f.endsWith(".ckpt")).sort().slice(-2)) {
      const path = join(ckpts, name);
      if (damage === "truncated") truncateSync(path, readFileSync(path).length - 100);
      else {
        const buf = readFileSync(path);
        buf[buf.length >> 1] = (buf[buf.length >> 1] as number) ^ 0x01;
        writeFileSync(path, buf);
      }
    }
    stream.append(all.slice(3_000));
    store = await FeatureStore.open({ dir, clock: "event", state: "checkpoints" });
    await store.apply([clicks, perUser]);
    // The newest intact checkpoint is the one at 2,000: its state and position go together.
    expect(store.savedPositions()).toEqual({ clicks: 2_000 });
    expect(store.stats().datasets.clicks?.accepted).toBe(2_000);
    expect(readdirSync(ckpts).filter((f) => f.endsWith(".corrupt"))).toHaveLength(2);
    job = await OnlineJob.start(store, [{ dataset: "clicks", source: stream.source("job") }], { batchSize: 1_000 });
    await until(() => job.stats().sources[0]?.read === 2_000);
    await job.stop();
    expect(store.stats().datasets.clicks?.accepted).toBe(4_000);
    const at = T0 + 3_999_000;
    expect(await store.getOnline(perUser, ["u0", "u1", "u2", "u3", "u4"].map((user) => ({ user })), { at })).toEqual(await offline(all, at));
    // The history recorded after the checkpoint used was discarded: point-in-time reads count every event once.
    const entities = Array.from({ length: 40 }, (_, i) => ({ user: `u${i % 5}`, ts: T0 + i * 100_000 }));
    const fresh = await FeatureStore.open({ clock: "event" });
    await fresh.apply([clicks, perUser]);
    await fresh.materializeOffline({ clicks: all });
    expect(await store.getHistorical(perUser, entities)).toEqual(await fresh.getHistorical(perUser, entities));
    await fresh.close();
    await store.close();
  });

  it("exports tables to an online store at each checkpoint; a replay after a fallback never moves a stored value back", async () => {
    const dir = tempDir();
    const stream = new MemoryStream();
    const all = events(0, 4_000);
    const online = new MemoryOnlineStore();
    const users = ["u0", "u1", "u2", "u3", "u4"];
    const features = ["n", "total", "top"];
    const exported = async () => (await online.read("per_user", users, features, { now: 0 })).map((cells) => cells.map((c) => [c.value, c.eventTime]));
    // Every event time written, to see that the replay did write older values (which the store ignored).
    // After each write, no stored event time may be older than one stored before.
    const written: number[] = [];
    const newest = new Map<string, number>();
    let backwards = 0;
    const write = online.write.bind(online);
    online.write = async (ns, rows, o) => {
      for (const r of rows) written.push(r.eventTime ?? Number.NaN);
      await write(ns, rows, o);
      const cells = await online.read("per_user", users, features, { now: 0 });
      cells.forEach((row, u) =>
        row.forEach((c, f) => {
          const id = `${u}/${f}`;
          if (c.eventTime !== null && c.eventTime < (newest.get(id) ?? -Infinity)) backwards++;
          newest.set(id, Math.max(newest.get(id) ?? -Infinity, c.eventTime ?? -Infinity));
        }),
      );
    };
    const run = async (upTo: readonly number[], batchSize = 1_000, checkpointEveryMs = 60_000) => {
      const store = await FeatureStore.open({ dir, clock: "event", state: "checkpoints" });
      await store.apply([clicks, perUser]);
      const from = store.stats().datasets.clicks?.accepted ?? 0;
      const job = await OnlineJob.start(store, [{ dataset: "clicks", source: stream.source("job") }], { batchSize, checkpointEveryMs, exportTo: { store: online, tables: ["per_user"] } });
      const seen: unknown[] = [];
      for (const n of upTo) {
        if (stream.length < n) stream.append(all.slice(stream.length, n));
        await until(() => from + (job.stats().sources[0]?.read ?? 0) === n);
        await job.checkpoint();
        seen.push(await exported());
      }
      await job.stop();
      await store.close();
      return seen;
    };
    const first = await run([1_000, 2_000, 3_000]);
    // What was exported at 3,000: the values as of the watermark, with it as event time.
    const at3 = T0 + 2_999_000;
    expect(first[2]).toEqual((await offline(all.slice(0, 3_000), at3)).map((r) => features.map((f) => [(r as Record<string, unknown>)[f], at3])));
    // Damage the checkpoints holding 3,000: the next run resumes at 2,000 and replays 2,000..3,000.
    const ckpts = join(dir, "checkpoints");
    for (const name of readdirSync(ckpts).filter((f) => f.endsWith(".ckpt")).sort().slice(-2)) truncateSync(join(ckpts, name), 10);
    written.length = 0;
    // Checkpoints (and exports) after every batch of 250: the replay exports values as of 2,250, 2,500...
    const second = await run([3_000, 4_000], 250, 1);
    expect(Math.min(...written)).toBeLessThan(at3);
    // ...which the store ignored: no stored value went back, and after replaying up to 3,000 it holds exactly what it held.
    expect(backwards).toBe(0);
    expect(second[0]).toEqual(first[2]);
    const at4 = T0 + 3_999_000;
    expect(second[1]).toEqual((await offline(all, at4)).map((r) => features.map((f) => [(r as Record<string, unknown>)[f], at4])));
  });

  it("an export that fails fails the job; closing commits state and positions together, and the restart exports what was lost", async () => {
    const dir = tempDir();
    const stream = new MemoryStream();
    const all = events(0, 2_000);
    const online = new MemoryOnlineStore();
    const users = ["u0", "u1", "u2", "u3", "u4"];
    const write = online.write.bind(online);
    let calls = 0;
    online.write = async (ns, rows, o) => {
      if (++calls === 2) throw new Error("the online store went away");
      return write(ns, rows, o);
    };
    const open = async () => {
      const store = await FeatureStore.open({ dir, clock: "event", state: "checkpoints" });
      await store.apply([clicks, perUser]);
      return store;
    };
    let store = await open();
    let job = await OnlineJob.start(store, [{ dataset: "clicks", source: stream.source("job") }], { batchSize: 1_000, checkpointEveryMs: 60_000, exportTo: { store: online, tables: ["per_user"] } });
    stream.append(all.slice(0, 1_000));
    await until(() => job.stats().sources[0]?.read === 1_000);
    await job.checkpoint();
    stream.append(all.slice(1_000));
    await until(() => job.stats().sources[0]?.read === 2_000);
    await expect(job.checkpoint()).rejects.toThrow(/went away/);
    await expect(job.done).rejects.toThrow(/went away/);
    await store.close();
    // close() committed the state of all 2,000 rows, and with it their position (not the last checkpoint's 1,000).
    store = await open();
    expect(store.savedPositions()).toEqual({ clicks: 2_000 });
    expect(store.stats().datasets.clicks).toMatchObject({ accepted: 2_000, late: 0 });
    // Nothing is left to read, yet the restarted job exports every key: the changes the failed export lost.
    job = await OnlineJob.start(store, [{ dataset: "clicks", source: stream.source("job") }], { batchSize: 1_000, checkpointEveryMs: 60_000, exportTo: { store: online, tables: ["per_user"] } });
    await job.stop();
    expect(job.stats().sources[0]?.read).toBe(0);
    await store.close();
    const at = T0 + 1_999_000;
    const cells = await online.read("per_user", users, ["n", "total", "top"], { now: 0 });
    expect(cells.map((row) => row.map((c) => [c.value, c.eventTime]))).toEqual((await offline(all, at)).map((r) => ["n", "total", "top"].map((f) => [(r as Record<string, unknown>)[f], at])));
  });

  it("fails on a row that does not fit, naming the source, and checkpoints nothing of it", async () => {
    const dir = tempDir();
    const stream = new MemoryStream();
    stream.append(events(0, 10));
    const store = await FeatureStore.open({ dir, clock: "event", state: "checkpoints" });
    await store.apply([clicks, perUser]);
    const job = await OnlineJob.start(store, [{ dataset: "clicks", source: stream.source(), name: "clicks-live" }], { batchSize: 10 });
    await until(() => job.stats().sources[0]?.read === 10);
    await job.checkpoint();
    stream.append([{ user: "u1", amount: "lots", at: new Date(T0).toISOString() }]);
    const err = await job.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SchemaError);
    expect(String((err as Error).message)).toMatch(/amount/);
    expect(String((err as Error).message)).toContain('source "clicks-live"');
    expect(store.savedPositions()).toEqual({ "clicks-live": 10 });
    await store.close();
  });

  it("dead-letters rows that do not fit when told to, and counts read = accepted + dead-lettered", async () => {
    const stream = new MemoryStream();
    const rows: unknown[] = events(0, 20);
    rows.splice(5, 0, { user: "u1" }, "not a row", { user: "u2", amount: 1, at: "yesterday" });
    stream.append(rows);
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([clicks, perUser]);
    const job = await OnlineJob.start(store, [{ dataset: "clicks", source: stream.source(), onError: "dead-letter" }], { batchSize: 8 });
    await until(() => job.stats().sources[0]?.read === 23);
    await job.stop();
    const s = store.stats().datasets.clicks;
    expect(s?.accepted).toBe(20);
    expect(s?.invalid).toBe(3);
    expect(store.deadLetters("clicks").map((d) => d.reason)).toEqual(["invalid", "invalid", "invalid"]);
    await store.close();
  });

  it("reads a source again only once its batch is in the store (bounded memory)", async () => {
    const stream = new MemoryStream();
    stream.append(events(0, 1_000));
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([clicks, perUser]);
    const source = stream.source();
    const sizes: number[] = [];
    const next = source.next.bind(source);
    let inFlight = 0;
    let maxInFlight = 0;
    source.next = async (n, w) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const b = await next(n, w);
      sizes.push(b.rows.length);
      return b;
    };
    const push = store.push.bind(store);
    store.push = async (d, r, o) => {
      const rep = await push(d, r, o);
      inFlight--;
      return rep;
    };
    const job = await OnlineJob.start(store, [{ dataset: "clicks", source }], { batchSize: 100, maxWaitMs: 20 });
    await until(() => job.stats().sources[0]?.read === 1_000);
    await job.stop();
    expect(Math.max(...sizes)).toBe(100);
    expect(maxInFlight).toBe(1);
    await store.close();
  });

  it("rejects a source for a dataset that is not applied, and two sources with one name", async () => {
    const store = await FeatureStore.open();
    await store.apply([clicks]);
    const s = new MemoryStream();
    await expect(OnlineJob.start(store, [{ dataset: "nope", source: s.source() }])).rejects.toThrow(/"nope", which is not applied/);
    await expect(OnlineJob.start(store, [{ dataset: "clicks", source: s.source() }, { dataset: "clicks", source: s.source() }])).rejects.toThrow(/two sources are named "clicks"/);
    await expect(OnlineJob.start(store, [{ dataset: "clicks", source: s.source() }], { checkpointEveryMs: 0 })).rejects.toThrow(/checkpointEveryMs/);
    await store.close();
  });
});
