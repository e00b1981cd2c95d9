import type { AggKind, AggregationDef } from "../../plan/nodes.js";
import { DDSketch } from "./ddSketch.js";
import { HyperLogLog } from "./hyperLogLog.js";
import { ValueCounts } from "./valueCounts.js";

/**
 * An aggregation as an algebra over partial states S. `add` folds one
 * non-null value observed at time t, `merge` combines two partials (of
 * disjoint event sets; `a` covers the earlier events when order matters),
 * `finalize` reads the result as of time t, and `remove` undoes an add where
 * the aggregation is invertible. `add`, `merge` and `remove` may update their
 * first argument and return it; `merge` never changes its second (tiles
 * merge their states into fresh ones and keep them).
 *
 * The sliding-window engine reads count/sum/avg/variance from prefix sums and
 * min/max from monotonic deques, and keeps the sketches below in window
 * readers; these algebras are the same aggregations in mergeable form: tiles
 * of long windows keep the window readers' ones (see tiles.ts), and tests
 * check the engine against them.
 */
export interface Algebra<S, O> {
  readonly kind: AggKind;
  init(): S;
  add(s: S, v: unknown, t: number): S;
  merge(a: S, b: S): S;
  finalize(s: S, t: number): O;
  remove?(s: S, v: unknown, t: number): S;
}

interface Moments {
  n: number;
  sum: number;
  sq: number;
}

const moments = {
  init: (): Moments => ({ n: 0, sum: 0, sq: 0 }),
  add: (s: Moments, v: unknown): Moments => {
    const x = v as number;
    s.n++;
    s.sum += x;
    s.sq += x * x;
    return s;
  },
  merge: (a: Moments, b: Moments): Moments => {
    a.n += b.n;
    a.sum += b.sum;
    a.sq += b.sq;
    return a;
  },
  remove: (s: Moments, v: unknown): Moments => {
    const x = v as number;
    s.n--;
    s.sum -= x;
    s.sq -= x * x;
    return s;
  },
};

function varianceOf(s: Moments): number | null {
  if (s.n === 0) return null;
  const v = (s.sq - (s.sum * s.sum) / s.n) / s.n;
  return v > 0 ? v : 0;
}

export interface Timed {
  t: number;
  v: unknown;
}

/** Values in time order, oldest first (ties keep insertion order). */
export interface TimedList {
  items: Timed[];
}

function insertTimed(s: TimedList, v: unknown, t: number): TimedList {
  let i = s.items.length;
  while (i > 0 && (s.items[i - 1] as Timed).t > t) i--;
  s.items.splice(i, 0, { t, v });
  return s;
}

function mergeTimed(a: TimedList, b: TimedList): TimedList {
  for (const x of b.items) insertTimed(a, x.v, x.t);
  return a;
}

/**
 * The `keep` earliest (end "first") or latest (end "last") values: all that
 * first/firstK (last/lastK) can ever read of a set of events, so tiles keep at
 * most `keep` values each. Truncation loses what a removal would need, so
 * these have no `remove`. Ties follow insertTimed (arrival order): the first
 * to arrive is kept by "first", the last to arrive by "last".
 */
function bounded(end: "first" | "last", keep: number) {
  const cut = (s: TimedList): TimedList => {
    const n = s.items.length;
    if (n > keep) {
      if (end === "first") s.items.length = keep;
      else s.items.splice(0, n - keep);
    }
    return s;
  };
  return {
    init: (): TimedList => ({ items: [] }),
    add: (s: TimedList, v: unknown, t: number): TimedList => {
      // Values mostly come in time order: a full "first" list keeps nothing at or
      // after its last time, and a full "last" list drops its oldest (reused).
      const items = s.items;
      const last = items[items.length - 1];
      if (items.length >= keep && last !== undefined && t >= last.t) {
        if (end === "first") return s;
        const reuse = items.shift() as Timed;
        reuse.t = t;
        reuse.v = v;
        items.push(reuse);
        return s;
      }
      return cut(insertTimed(s, v, t));
    },
    merge: (a: TimedList, b: TimedList): TimedList => cut(mergeTimed(a, b)),
  };
}

/** The algebra of one aggregation definition (its parameters applied). */
export function algebraOf(def: Pick<AggregationDef, "kind" | "k" | "q" | "accuracy" | "precision" | "halfLife">): Algebra<unknown, unknown> {
  const k = def.k ?? 1;
  switch (def.kind) {
    case "count":
      return typed<{ n: number }, number>({
        kind: "count",
        init: () => ({ n: 0 }),
        add: (s) => ((s.n += 1), s),
        merge: (a, b) => ((a.n += b.n), a),
        finalize: (s) => s.n,
        remove: (s) => ((s.n -= 1), s),
      });
    case "sum":
      return typed<Moments, number>({ kind: "sum", ...moments, finalize: (s) => s.sum });
    case "avg":
      return typed<Moments, number | null>({ kind: "avg", ...moments, finalize: (s) => (s.n === 0 ? null : s.sum / s.n) });
    case "variance":
      return typed<Moments, number | null>({ kind: "variance", ...moments, finalize: varianceOf });
    case "stddev":
      return typed<Moments, number | null>({
        kind: "stddev",
        ...moments,
        finalize: (s) => {
          const v = varianceOf(s);
          return v === null ? null : Math.sqrt(v);
        },
      });
    case "min":
    case "max": {
      const better = def.kind === "min" ? (a: number, b: number): boolean => a < b : (a: number, b: number): boolean => a > b;
      return typed<{ v: number | null }, number | null>({
        kind: def.kind,
        init: () => ({ v: null }),
        add: (s, v) => ((s.v === null || better(v as number, s.v) ? (s.v = v as number) : undefined), s),
        merge: (a, b) => ((b.v !== null && (a.v === null || better(b.v, a.v)) ? (a.v = b.v) : undefined), a),
        finalize: (s) => s.v,
      });
    }
    case "first":
      return typed<TimedList, unknown>({ kind: "first", ...bounded("first", 1), finalize: (s) => s.items[0]?.v ?? null });
    case "last":
      return typed<TimedList, unknown>({ kind: "last", ...bounded("last", 1), finalize: (s) => s.items[s.items.length - 1]?.v ?? null });
    case "firstK":
      return typed<TimedList, unknown[]>({ kind: "firstK", ...bounded("first", k), finalize: (s) => s.items.slice(0, k).map((x) => x.v) });
    case "lastK":
      return typed<TimedList, unknown[]>({ kind: "lastK", ...bounded("last", k), finalize: (s) => s.items.slice(-k).reverse().map((x) => x.v) });
    case "distinctCount":
    case "topK":
      return typed<ValueCounts, unknown>({
        kind: def.kind,
        init: () => new ValueCounts(),
        add: (s, v) => (s.add(v), s),
        merge: (a, b) => (a.merge(b), a),
        remove: (s, v) => (s.remove(v), s),
        finalize: (s) => (def.kind === "topK" ? s.top(k) : s.distinct),
      });
    case "approxDistinct":
      return typed<HyperLogLog, number>({
        kind: "approxDistinct",
        init: () => new HyperLogLog(def.precision ?? 10),
        add: (s, v) => (s.add(v), s),
        merge: (a, b) => (a.merge(b), a),
        finalize: (s) => s.estimate(),
      });
    case "approxQuantile":
      return typed<DDSketch, number | null>({
        kind: "approxQuantile",
        init: () => new DDSketch(def.accuracy ?? 0.01),
        add: (s, v) => (s.add(v as number), s),
        merge: (a, b) => (a.merge(b), a),
        remove: (s, v) => (s.remove(v as number), s),
        finalize: (s) => (s.count === 0 ? null : s.quantile(def.q ?? 0.5)),
      });
    case "decayedSum": {
      // Kept as a value at a reference time; moving it to another time scales it.
      const h = def.halfLife ?? 1;
      const at = (s: { v: number; t: number }, t: number): number => (s.t === Number.NEGATIVE_INFINITY ? 0 : s.v * Math.pow(2, -(t - s.t) / h));
      return typed<{ v: number; t: number }, number>({
        kind: "decayedSum",
        init: () => ({ v: 0, t: Number.NEGATIVE_INFINITY }),
        add: (s, v, t) => {
          const ref = Math.max(s.t, t);
          s.v = at(s, ref) + (v as number) * Math.pow(2, -(ref - t) / h);
          s.t = ref;
          return s;
        },
        merge: (a, b) => {
          const ref = Math.max(a.t, b.t);
          a.v = at(a, ref) + at(b, ref);
          a.t = ref;
          return a;
        },
        remove: (s, v, t) => {
          s.v -= (v as number) * Math.pow(2, -(s.t - t) / h);
          return s;
        },
        finalize: (s, t) => at(s, t),
      });
    }
  }
}

function typed<S, O>(a: Algebra<S, O>): Algebra<unknown, unknown> {
  return a as unknown as Algebra<unknown, unknown>;
}
