import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../src/core/clock.js";
import { t } from "../../src/core/schema.js";
import { count, max, sum } from "../../src/dsl/aggregations.js";
import { dataset } from "../../src/dsl/dataset.js";
import { FeatureStore } from "../../src/featureStore/featureStore.js";
import { FileRegistry } from "../../src/registry/fileRegistry.js";
import type { Registry } from "../../src/registry/registry.js";
import { createServer, type FreshetServer, type ServerOptions } from "../../src/serving/server.js";
import { MemoryOnlineStore } from "../../src/stores/online/memoryOnlineStore.js";
import type { OnlineStore } from "../../src/stores/online/onlineStore.js";

export const purchases = dataset("purchases", { user: t.string(), amount: t.float(), ts: t.timestamp() }, { timestamp: "ts", description: "purchases by user", owner: "risk-team" });
export const userSpend = purchases
  .groupBy("user")
  .aggregate({ n_1h: count({ window: "1h" }), spend_1h: sum("amount", { window: "1h" }), top_1h: max("amount", { window: "1h" }) })
  .as("user_spend", { ttl: "2h", description: "spend per user over the last hour", owner: "risk-team", tags: { domain: "payments" } });

export const T0 = Date.UTC(2026, 0, 5, 12);
export const MIN = 60_000;

export interface Fixture {
  readonly clock: ManualClock;
  readonly store: FeatureStore;
  readonly online: OnlineStore;
  readonly registry: Registry;
  readonly server: FreshetServer;
  close(): Promise<void>;
}

/** A server over an in-memory store with purchases/user_spend, a memory online store and a file registry in a temp dir. */
export async function servingFixture(options: Partial<ServerOptions> = {}): Promise<Fixture> {
  const clock = new ManualClock(T0);
  const store = await FeatureStore.open({ clock });
  await store.apply([purchases, userSpend]);
  const dir = await mkdtemp(join(tmpdir(), "freshet-serve-"));
  const online = options.online ?? new MemoryOnlineStore();
  const registry = options.registry ?? (await FileRegistry.open(join(dir, "registry.json")));
  const server = await createServer({ store, online, registry, clock, logLevel: false, ...options });
  return {
    clock,
    store,
    online,
    registry,
    server,
    async close() {
      await server.close();
      await store.close();
      await online.close();
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
