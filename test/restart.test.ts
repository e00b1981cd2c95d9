/** Open with a data directory, push, close, reopen, read: the same values, online and offline. */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  approxDistinct,
  approxQuantile,
  avg,
  count,
  dataset,
  decayedSum,
  distinctCount,
  FeatureStore,
  first,
  lastK,
  max,
  min,
  stddev,
  sum,
  t,
  topK,
} from "../src/index.js";

const clicks = dataset("clicks", { user: t.string(), amount: t.float().optional(), at: t.timestamp() }, { timestamp: "at", lateness: "1m" });
const userStats = clicks
  .groupBy("user")
  .aggregate({
    clicks_1h: count({ window: "1h" }),
    spend_1d: sum("amount", { window: "1d" }),
    avg_1d: avg("amount", { window: "1d" }),
    max_1h: max("amount", { window: "1h" }),
    min_1h: min("amount", { window: "1h" }),
  })
  .as("user_stats");

const T0 = Date.UTC(2025, 5, 1, 12);
function events(n: number, offset: number) {
  return Array.from({ length: n }, (_, i) => ({
    user: `u${i % 7}`,
    amount: i % 11 === 0 ? null : ((i * 37) % 101) / 4,
    at: new Date(T0 + (offset + i) * 20_000).toISOString(),
  }));
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("restart with a data directory", () => {
  it("reopens online state, history, watermarks and dead-letter counts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "freshet-restart-"));
    dirs.push(dir);
    const users = Array.from({ length: 8 }, (_, i) => ({ user: `u${i}` }));
    const at = T0 + 400 * 20_000;

    const a = await FeatureStore.open({ dir, clock: "event" });
    await a.apply([clicks, userStats]);
    await a.materializeOffline({ clicks: events(300, 0) });
    const pushed = await a.push("clicks", [...events(100, 300), { user: "u1", amount: 5, at: new Date(T0).toISOString() }]);
    expect(pushed).toEqual({ read: 101, accepted: 100, late: 1, invalid: 0 });
    const onlineBefore = await a.getOnline(userStats, users, { at });
    const histBefore = await a.getHistorical(userStats, users.map((u) => ({ ...u, ts: at - 3_600_000 })));
    const statsBefore = a.stats();
    expect(statsBefore.state).toBe(`LMDB at ${join(dir, "online")}`);
    const byUser = (rows: Array<{ user: string }>) => rows.slice().sort((x, y) => x.user.localeCompare(y.user));
    const bulkBefore = byUser(await a.bulkQuery(userStats));
    expect(bulkBefore).toHaveLength(7);
    await a.close();
    await expect(a.getOnline(userStats, users)).rejects.toThrow(/closed/);

    expect((await readdir(join(dir, "offline", "clicks"))).filter((f) => f.endsWith(".parquet")).length).toBe(2);
    // The late event is kept on disk too, not only counted.
    const letters = (await readFile(join(dir, "dead-letters.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ dataset: "clicks", reason: "late", eventTime: T0, row: { user: "u1", amount: 5 } });

    const b = await FeatureStore.open({ dir, clock: "event" });
    // A table this directory has never seen is built from the history on disk.
    const perUser1d = clicks.groupBy("user").aggregate({ clicks_1d: count({ window: "1d" }) }).as("per_user_1d");
    await b.apply([clicks, userStats, perUser1d]);
    // A bulk read after the restart sees every persisted key, not only those loaded since.
    expect(byUser(await b.bulkQuery(userStats))).toEqual(bulkBefore);
    const fresh = await b.getOnline(perUser1d, users, { at });
    expect(fresh.map((r) => r.clicks_1d)).toEqual(users.map((u) => (u.user === "u7" ? 0 : expect.any(Number))));
    expect(fresh.reduce((a, r) => a + r.clicks_1d, 0)).toBe(400);
    expect(await b.getHistorical(perUser1d, users.map((u) => ({ ...u, ts: at })))).toEqual(fresh.map((r) => ({ ...r, ts: at })));
    expect(await b.getOnline(userStats, users, { at })).toEqual(onlineBefore);
    expect(await b.getHistorical(userStats, users.map((u) => ({ ...u, ts: at - 3_600_000 })))).toEqual(histBefore);
    expect(b.stats().datasets).toEqual(statsBefore.datasets);
    expect(onlineBefore[0]?.clicks_1h).toBeGreaterThan(0);

    // The watermark survived: an event behind it is still late after the restart.
    const late = await b.push("clicks", [{ user: "u2", amount: 1, at: new Date(T0 + 10_000).toISOString() }]);
    expect(late.late).toBe(1);
    // And new events continue the same state.
    await b.push("clicks", [{ user: "u0", amount: 1000, at: new Date(at).toISOString() }]);
    const after = await b.getOnline(userStats, [{ user: "u0" }], { at });
    expect(after[0]?.max_1h).toBe(1000);
    expect(after[0]?.clicks_1h).toBe((onlineBefore[0]?.clicks_1h ?? 0) + 1);
    const hist = await b.getHistorical(userStats, [{ user: "u0", ts: at }]);
    expect(hist[0]).toEqual({ ...after[0], ts: at });
    await b.close();
  });

  it("keeps the state of sketches and value lists (topK, lastK, approxQuantile, ...) across a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "freshet-restart-"));
    dirs.push(dir);
    const rich = clicks
      .assign("tier", t.string(), (c) => (c.amount === null ? "none" : c.amount > 12 ? "high" : "low"))
      .groupBy("user")
      .aggregate({
        sd_1d: stddev("amount", { window: "1d" }),
        first_tier_1h: first("tier", { window: "1h" }),
        last3_1d: lastK("amount", { window: "1d", k: 3 }),
        tiers_1d: distinctCount("tier", { window: "1d" }),
        amounts_1d: approxDistinct("amount", { window: "1d" }),
        p90_1d: approxQuantile("amount", { window: "1d", q: 0.9 }),
        top_tier_1d: topK("tier", { window: "1d", k: 2 }),
        decayed_1d: decayedSum("amount", { window: "1d", halfLife: "10m" }),
      })
      .as("rich_stats");
    const users = Array.from({ length: 7 }, (_, i) => ({ user: `u${i}` }));
    const at = T0 + 400 * 20_000;
    const a = await FeatureStore.open({ dir, clock: "event" });
    await a.apply([clicks, rich]);
    await a.materializeOffline({ clicks: events(300, 0) });
    await a.push("clicks", events(100, 300));
    const before = await a.getOnline(rich, users, { at });
    await a.close();

    const b = await FeatureStore.open({ dir, clock: "event" });
    await b.apply([clicks, rich]);
    expect(await b.getOnline(rich, users, { at })).toEqual(before);
    // The restored state keeps taking events: a new value shows in every list.
    await b.push("clicks", [{ user: "u0", amount: 99, at: new Date(at).toISOString() }]);
    const [u0] = await b.getOnline(rich, [{ user: "u0" }], { at });
    expect(u0?.last3_1d).toEqual([99, ...(before[0]?.last3_1d ?? []).slice(0, 2)]);
    expect(u0?.top_tier_1d[0]?.value).toBe("high");
    expect(before[0]?.top_tier_1d.map((x) => x.value).sort()).toEqual(["high", "low"]);
    expect(u0?.p90_1d).toBeGreaterThan(0);
    expect(await b.getHistorical(rich, [{ user: "u0", ts: at }])).toEqual([{ ...u0, ts: at }]);
    await b.close();
  });
});
