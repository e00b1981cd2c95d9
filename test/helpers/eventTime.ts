/** Helpers shared by the property tests of event time: the lateness rule and a time grid. */
import fc from "fast-check";

/**
 * The runtime's lateness rule, event by event: the rows of one source it
 * accepts, in arrival order (a row older than the latest time seen minus the
 * lateness is late).
 */
export function accepted<E extends { ts: number }>(rows: readonly E[], lateness: number): E[] {
  let maxTs = Number.NEGATIVE_INFINITY;
  const out: E[] = [];
  for (const r of rows) {
    if (r.ts < maxTs - lateness) continue;
    maxTs = Math.max(maxTs, r.ts);
    out.push(r);
  }
  return out;
}

/** The watermark after accepted rows: their latest time minus the lateness (−Infinity when none). */
export function watermarkOf(rows: ReadonlyArray<{ ts: number }>, lateness: number): number {
  return rows.length === 0 ? Number.NEGATIVE_INFINITY : Math.max(...rows.map((r) => r.ts)) - lateness;
}

/**
 * Times on a 100 ms grid (0 to max·100), so that ties (at a watermark, a
 * window edge, a join bound) are common.
 */
export const grid = (max: number): fc.Arbitrary<number> => fc.integer({ min: 0, max }).map((x) => x * 100);

/**
 * Pushes rows in batches of the given sizes (cycled), calling `between`
 * after each batch (to read, so that cursors move between batches). Returns
 * the latest event time pushed.
 */
export async function pushInBatches<E extends { ts: number }>(
  store: { push(dataset: string, rows: readonly E[]): Promise<unknown> },
  dataset: string,
  rows: readonly E[],
  sizes: readonly number[],
  between: () => Promise<unknown> = async () => undefined,
): Promise<number> {
  let i = 0;
  let k = 0;
  let maxPushed = Number.NEGATIVE_INFINITY;
  while (i < rows.length) {
    const batch = rows.slice(i, i + (sizes[k++ % sizes.length] as number));
    i += batch.length;
    await store.push(dataset, batch);
    for (const e of batch) maxPushed = Math.max(maxPushed, e.ts);
    await between();
  }
  return maxPushed;
}
