/**
 * Event time across DST edges: timestamps written in local time with their
 * UTC offset are instants; windows and days are UTC, whatever the offsets and
 * the machine's time zone.
 */
import { describe, expect, it } from "vitest";
import { count, dataset, FeatureStore, t, tumbling } from "../src/index.js";

const visits = dataset("visits", { site: t.string(), at: t.timestamp() }, { timestamp: "at", lateness: "2h" });
const perSite = visits
  .groupBy("site")
  .aggregate({ last_hour: count({ window: "1h" }), last_2m: count({ window: "2m" }), utc_day: count({ window: tumbling("1d") }) })
  .as("per_site");

describe("event time across DST edges", () => {
  it("Berlin's fall-back hour: the same local time twice is two instants an hour apart", async () => {
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([visits, perSite]);
    await store.push("visits", [
      { site: "de", at: "2025-10-26T01:30:00+02:00" }, // 23:30 UTC on the 25th
      { site: "de", at: "2025-10-26T02:30:00+02:00" }, // 00:30 UTC
      { site: "de", at: "2025-10-26T02:30:00+01:00" }, // 01:30 UTC: the same wall time, an hour later
      { site: "de", at: "2025-10-26T03:30:00+01:00" }, // 02:30 UTC
    ]);
    const read = async (iso: string) => (await store.getHistorical(perSite, [{ site: "de", ts: iso }]))[0];
    expect(await read("2025-10-26T02:30:00Z")).toMatchObject({ last_hour: 1, utc_day: 3 });
    expect(await read("2025-10-26T01:30:00Z")).toMatchObject({ last_hour: 1, utc_day: 2 });
    expect(await read("2025-10-26T01:29:59.999Z")).toMatchObject({ last_hour: 1, utc_day: 1 });
    expect(await read("2025-10-25T23:59:59Z")).toMatchObject({ last_hour: 1, utc_day: 1 });
    await store.close();
  });

  it("New York's spring-forward gap: 01:59 EST and 03:00 EDT are one minute apart", async () => {
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([visits, perSite]);
    await store.push("visits", [
      { site: "us", at: "2021-03-14T01:59:00-05:00" },
      { site: "us", at: "2021-03-14T03:00:00-04:00" },
    ]);
    const [row] = await store.getOnline(perSite, [{ site: "us" }], { at: "2021-03-14T07:00:00Z" });
    expect(row).toEqual({ site: "us", last_hour: 2, last_2m: 2, utc_day: 2 });
    // The same instants written in UTC or as Dates give the same features.
    const b = await FeatureStore.open({ clock: "event" });
    await b.apply([visits, perSite]);
    await b.push("visits", [
      { site: "us", at: new Date(Date.UTC(2021, 2, 14, 6, 59)) },
      { site: "us", at: Date.UTC(2021, 2, 14, 7, 0) },
    ]);
    expect(await b.getOnline(perSite, [{ site: "us" }], { at: "2021-03-14T07:00:00Z" })).toEqual([row]);
    await store.close();
    await b.close();
  });
});
