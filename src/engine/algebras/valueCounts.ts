/**
 * Multiset of values with their counts: exact distinct counts and top-k.
 * Invertible (remove decrements), so a sliding window keeps it exactly.
 */
export class ValueCounts {
  readonly counts = new Map<unknown, number>();
  /** Every (value, count) in top() order, for a multiset read as a base many times; dropped at any change. */
  private ranked: Array<{ value: unknown; count: number }> | undefined;

  add(v: unknown, weight = 1): void {
    this.ranked = undefined;
    const c = (this.counts.get(v) ?? 0) + weight;
    if (c <= 0) this.counts.delete(v);
    else this.counts.set(v, c);
  }

  remove(v: unknown): void {
    this.add(v, -1);
  }

  merge(o: ValueCounts): void {
    for (const [v, c] of o.counts) this.add(v, c);
  }

  get distinct(): number {
    return this.counts.size;
  }

  /** The k most frequent values, most frequent first; ties go to the smaller value (see compareValues). */
  top(k: number): Array<{ value: unknown; count: number }> {
    const best = new TopK(k);
    this.counts.forEach((count, value) => best.offer(value, count));
    return best.items;
  }

  /** Distinct values of this multiset and `base` together (neither is changed). */
  distinctWith(base: ValueCounts): number {
    let n = base.counts.size;
    for (const v of this.counts.keys()) if (!base.counts.has(v)) n++;
    return n;
  }

  /**
   * top(k) of this multiset and `base` together, without building their
   * union: this one's values with their summed counts, and of the values
   * only in base, its first k in rank order (any later one ranks below them).
   */
  topWith(base: ValueCounts, k: number): Array<{ value: unknown; count: number }> {
    const best = new TopK(k);
    this.counts.forEach((count, value) => best.offer(value, count + (base.counts.get(value) ?? 0)));
    let taken = 0;
    for (const e of base.rankedEntries()) {
      if (taken === k) break;
      if (this.counts.has(e.value)) continue;
      best.offer(e.value, e.count);
      taken++;
    }
    return best.items;
  }

  private rankedEntries(): ReadonlyArray<{ value: unknown; count: number }> {
    return (this.ranked ??= [...this.counts].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || compareValues(a.value, b.value)));
  }
}

/** The best k (value, count) pairs offered, in order: one pass (k is small; the values may not be). */
class TopK {
  readonly items: Array<{ value: unknown; count: number }> = [];
  constructor(private readonly k: number) {}

  offer(value: unknown, count: number): void {
    const best = this.items;
    const k = this.k;
    if (best.length === k) {
      const worst = best[k - 1];
      if (worst === undefined || count < worst.count || (count === worst.count && compareValues(value, worst.value) > 0)) return;
    }
    let i = best.length;
    while (i > 0) {
      const o = best[i - 1] as { value: unknown; count: number };
      if (o.count > count || (o.count === count && compareValues(o.value, value) < 0)) break;
      i--;
    }
    best.splice(i, 0, { value, count });
    if (best.length > k) best.length = k;
  }
}

/** A total order on field values: numbers, then strings, then booleans; each in its natural order. */
export function compareValues(a: unknown, b: unknown): number {
  const ta = rankOfType(a);
  const tb = rankOfType(b);
  if (ta !== tb) return ta - tb;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function rankOfType(v: unknown): number {
  return typeof v === "number" ? 0 : typeof v === "string" ? 1 : typeof v === "boolean" ? 2 : 3;
}
