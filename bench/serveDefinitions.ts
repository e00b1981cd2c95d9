/** Definitions bench/serveTarget.ts serves: a computed table of 4 features per user. */
import { avg, count, dataset, max, sum, t } from "../src/index.js";

export const events = dataset("events", { user: t.string(), value: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
export const userStats = events
  .groupBy("user")
  .aggregate({ n_1h: count({ window: "1h" }), total_1h: sum("value", { window: "1h" }), mean_1h: avg("value", { window: "1h" }), top_1h: max("value", { window: "1h" }) })
  .as("user_stats");

export const ENTITIES = 1_000;
/** Registered features of the "user_features" view. */
export const FEATURES = ["f1", "f2", "f3", "f4"] as const;
