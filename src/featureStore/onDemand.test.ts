import { describe, expect, expectTypeOf, it } from "vitest";
import { t } from "../core/schema.js";
import { count, sum } from "../dsl/aggregations.js";
import { dataset } from "../dsl/dataset.js";
import { onDemand } from "../dsl/onDemand.js";
import { FeatureStore } from "./featureStore.js";

const T = Date.UTC(2025, 0, 1);
const YEAR = 365.25 * 86_400_000;
const clicks = dataset("clicks", { user: t.string(), amount: t.float(), at: t.timestamp() }, { timestamp: "at" });
const perUser = clicks.groupBy("user").aggregate({ clicks_1d: count({ window: "1d" }), spend_1d: sum("amount", { window: "1d" }) }).as("per_user");

const profile = onDemand("user_profile", {
  inputs: [perUser],
  request: { birth_date: t.timestamp(), budget: t.float().optional() },
  output: { age_years: t.float(), spend_per_click: t.float().optional(), over_budget: t.bool() },
  compute: (r, at) => ({
    age_years: Math.floor((at - r.birth_date) / YEAR),
    spend_per_click: r.clicks_1d === 0 ? null : r.spend_1d / r.clicks_1d,
    over_budget: r.budget !== null && r.spend_1d > r.budget,
  }),
});

async function store(): Promise<FeatureStore> {
  const s = await FeatureStore.open({ clock: "event" });
  await s.apply([clicks, perUser, profile]);
  await s.push("clicks", [
    { user: "ann", amount: 10, at: T },
    { user: "ann", amount: 30, at: T + 1000 },
    { user: "bob", amount: 5, at: T + 2000 },
  ]);
  return s;
}

describe("on-demand features", () => {
  it("compute from request data, stored features and the read time, the same online and point-in-time", async () => {
    const s = await store();
    const born = new Date(Date.UTC(1990, 6, 1));
    const online = await s.getOnline(profile, [
      { user: "ann", birth_date: born.getTime(), budget: 35 },
      { user: "cat", birth_date: "2000-01-01T00:00:00Z" as unknown as number, budget: null },
    ]);
    expectTypeOf(online[0]).toEqualTypeOf<{ user: string; age_years: number; spend_per_click: number | null; over_budget: boolean } | undefined>();
    expect(online).toEqual([
      { user: "ann", age_years: 34, spend_per_click: 20, over_budget: true },
      { user: "cat", age_years: 25, spend_per_click: null, over_budget: false },
    ]);
    // At the watermark (T + 2000) a point-in-time read gives the same; earlier, only what was known then.
    const hist = await s.getHistorical(profile, [
      { user: "ann", birth_date: born.getTime(), budget: 35, ts: T + 2000 },
      { user: "ann", birth_date: born.getTime(), budget: 35, ts: T },
    ]);
    expect(hist).toEqual([
      { user: "ann", birth_date: born.getTime(), budget: 35, ts: T + 2000, age_years: 34, spend_per_click: 20, over_budget: true },
      { user: "ann", birth_date: born.getTime(), budget: 35, ts: T, age_years: 34, spend_per_click: 10, over_budget: false },
    ]);
    expect(s.list().onDemand).toEqual(["user_profile"]);
    await s.close();
  });

  it("rejects bad request rows and bad outputs with errors naming the field", async () => {
    const s = await store();
    await expect(s.getOnline(profile, [{ user: "ann", budget: 1 } as never])).rejects.toThrow(/on-demand feature "user_profile", request row 0: required timestamp field "birth_date" is missing/);
    await expect(s.getOnline(profile, [{ user: "ann", birth_date: "soon", budget: 1 } as never])).rejects.toThrow(/request row 0: timestamp field "birth_date" does not fit: "soon"/);
    const broken = onDemand("broken", { inputs: [perUser], request: {}, output: { x: t.float() }, compute: () => ({ x: "not a number" }) as never });
    await s.apply([broken]);
    await expect(s.getOnline(broken, [{ user: "ann" }])).rejects.toThrow(/on-demand feature "broken", result for row 0: float field "x" does not fit: "not a number"/);
    const orphan = onDemand("orphan", { inputs: [clicks.groupBy("user").aggregate({ n: count({ window: "1h" }) }).as("elsewhere")], request: {}, output: { y: t.float() }, compute: (r) => ({ y: r.n }) });
    await expect(s.apply([orphan])).rejects.toThrow(/reads table "elsewhere", which is not applied/);
    expect(() => onDemand("x", { inputs: [], request: {}, output: {}, compute: () => ({}) })).toThrow(/"output" needs at least one field/);
    await s.close();
  });
});
