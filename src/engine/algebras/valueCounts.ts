/**
 * Multiset of values with their counts: exact distinct counts and top-k.
 * Invertible (remove decrements), so a sliding window keeps it exactly.
 */
export class ValueCounts {
  readonly counts = new Map<unknown, number>();

  add(v: unknown, weight = 1): void {
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
    // One pass keeping the best k in order (k is small; the map may not be).
    const best: Array<{ value: unknown; count: number }> = [];
    this.counts.forEach((count, value) => {
      if (best.length === k) {
        const worst = best[k - 1] as { value: unknown; count: number };
        if (count < worst.count || (count === worst.count && compareValues(value, worst.value) > 0)) return;
      }
      let i = best.length;
      while (i > 0) {
        const o = best[i - 1] as { value: unknown; count: number };
        if (o.count > count || (o.count === count && compareValues(o.value, value) < 0)) break;
        i--;
      }
      best.splice(i, 0, { value, count });
      if (best.length > k) best.length = k;
    });
    return best;
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
