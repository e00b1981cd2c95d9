/**
 * Volga's quick start in Freshet: users (a keyed dataset) and orders (a
 * stream); orders on sale are joined to the buyer as of the purchase time,
 * then grouped per user with the average spent over 7 days and 1 hour and the
 * purchases over a week. The history is backfilled offline, then live orders
 * are pushed and read online. Run: npx tsx examples/volga-orders.ts
 */
import { avg, count, dataset, FeatureStore, mulberry32, t } from "freshet";

const users = dataset(
  "users",
  { user_id: t.string(), registered_at: t.timestamp(), name: t.string() },
  { timestamp: "registered_at", key: ["user_id"] },
);

const orders = dataset(
  "orders",
  { buyer_id: t.string(), product_id: t.string(), product_type: t.string(), purchased_at: t.timestamp(), product_price: t.float() },
  { timestamp: "purchased_at", lateness: "1m" },
);

export const onSaleUserSpent = orders
  .filter((o) => o.product_type === "ON_SALE")
  .join(users, { on: ["buyer_id"] }) // the buyer's user row as of the purchase: only registered buyers
  .rename({ buyer_id: "user_id" })
  .groupBy("user_id")
  .aggregate({
    avg_spent_7d: avg("product_price", { window: "7d" }),
    avg_spent_1h: avg("product_price", { window: "1h" }),
    num_purchases_1w: count({ window: "1w" }),
  })
  .as("on_sale_user_spent");

type UserRow = { user_id: string; registered_at: number; name: string };
type OrderRow = { buyer_id: string; product_id: string; product_type: string; purchased_at: number; product_price: number };

/** Seeded synthetic users and orders: 20 users registering over two weeks, 3,000 orders over four. */
export function generate(seed = 7): { users: UserRow[]; orders: OrderRow[] } {
  const random = mulberry32(seed);
  const start = Date.UTC(2026, 2, 1);
  const day = 86_400_000;
  const userRows = Array.from({ length: 20 }, (_, i) => ({ user_id: `u${i}`, registered_at: start + Math.floor(random() * 14 * day), name: `user ${i}` }));
  userRows.sort((a, b) => a.registered_at - b.registered_at);
  const orderRows: OrderRow[] = [];
  for (let i = 0; i < 3_000; i++) {
    orderRows.push({
      buyer_id: `u${Math.floor(random() * 20)}`,
      product_id: `p${Math.floor(random() * 50)}`,
      product_type: random() < 0.4 ? "ON_SALE" : "REGULAR",
      purchased_at: start + Math.floor((i / 3_000) * 28 * day),
      product_price: Math.round(random() * 10_000) / 100,
    });
  }
  return { users: userRows, orders: orderRows };
}

export async function main(): Promise<{ historical: Array<Record<string, unknown>>; online: Array<Record<string, unknown>>; liveFrom: number }> {
  const { users: userRows, orders: orderRows } = generate();
  const cut = Math.floor(orderRows.length * 0.9);
  const store = await FeatureStore.open({ clock: "event" });
  await store.apply([users, orders, onSaleUserSpent]);
  // Offline: backfill the history (Volga's materialize_offline), then a point-in-time read.
  await store.materializeOffline({ users: userRows, orders: orderRows.slice(0, cut) });
  const liveFrom = (orderRows[cut] as OrderRow).purchased_at;
  const historical = await store.getHistorical(onSaleUserSpent, [{ user_id: "u1", ts: liveFrom }, { user_id: "u2", ts: liveFrom }]);
  // Online: the rest arrives live (Volga's materialize_online), read as of the latest event.
  for (let i = cut; i < orderRows.length; i += 50) await store.push("orders", orderRows.slice(i, i + 50));
  const last = (orderRows[orderRows.length - 1] as OrderRow).purchased_at;
  const online = await store.getOnline(onSaleUserSpent, [{ user_id: "u1" }, { user_id: "u2" }], { at: last });
  await store.close();
  return { historical, online, liveFrom };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { historical, online } = await main();
  console.log("point-in-time (offline):");
  console.table(historical);
  console.log("online, latest:");
  console.table(online);
}
