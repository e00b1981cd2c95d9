/**
 * ralf's quickstart in Freshet: a synthetic source of random numbers for the
 * keys "sam", "bob" and "sarah", a per-key count window of 100 records sliding
 * by 50, an `Average` operator, a queryable table, then a point query and a
 * bulk query. Run: npx tsx examples/ralf-average.ts
 */
import { dataset, FeatureStore, mulberry32, Operator, t } from "freshet";

/** The source's records: one random value per key per tick, 10 ms apart (ralf's FakeSource). */
export function* fakeSource(keys: readonly string[], ticks: number, seed = 42): Generator<{ key: string; value: number; ts: number }> {
  const random = mulberry32(seed);
  const start = Date.UTC(2026, 0, 1);
  for (let i = 0; i < ticks; i++) for (const key of keys) yield { key, value: random(), ts: start + i * 10 };
}

const records = dataset("records", { key: t.string(), value: t.float(), ts: t.timestamp() }, { timestamp: "ts" });

class Average extends Operator<Array<{ key: string; value: number }>, { average: number }> {
  onRecord(window: Array<{ key: string; value: number }>): { average: number } {
    return { average: window.reduce((a, r) => a + r.value, 0) / window.length };
  }
}

const average = records.groupBy("key").window({ size: 100, slide: 50 }).apply(Average, { output: { average: t.float() } }).as("average");

export async function main(ticks = 1_000): Promise<{ bob: { key: string; average: number | null }; all: Array<{ key: string; average: number | null }> }> {
  const store = await FeatureStore.open({ clock: "event" });
  await store.apply([records, average]);
  // Records arrive as a stream, pushed in small batches like a live source.
  const batch: Array<{ key: string; value: number; ts: number }> = [];
  for (const r of fakeSource(["sam", "bob", "sarah"], ticks)) {
    batch.push(r);
    if (batch.length === 30) await store.push("records", batch.splice(0));
  }
  if (batch.length > 0) await store.push("records", batch);
  const bob = await store.pointQuery(average, "bob"); // query a single key
  const all = await store.bulkQuery(average); // query all keys
  await store.close();
  return { bob, all };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { bob, all } = await main();
  console.log("point query bob:", bob);
  console.table(all);
}
