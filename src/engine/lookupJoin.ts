import { encodeKey } from "../core/keys.js";
import type { JoinNode, Row } from "../plan/nodes.js";
import type { Batch } from "./rowSteps.js";

/**
 * Every version of a keyed dataset's rows, per key, in event-time order (ties
 * in arrival order), for as-of lookups: the row at or before a time.
 */
export class LookupState {
  private readonly byKey = new Map<string, { ts: number[]; rows: Row[] }>();
  /** The time of the last trim: trimming again at or before it drops nothing. */
  private trimmedTo = Number.NEGATIVE_INFINITY;

  constructor(private readonly keyFields: readonly string[]) {}

  add(rows: readonly Row[], ts: ArrayLike<number>): void {
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as Row;
      const t = ts[i] as number;
      const id = encodeKey(this.keyFields.map((f) => row[f]));
      let v = this.byKey.get(id);
      if (v === undefined) this.byKey.set(id, (v = { ts: [], rows: [] }));
      let p = v.ts.length;
      while (p > 0 && (v.ts[p - 1] as number) > t) p--;
      v.ts.splice(p, 0, t);
      v.rows.splice(p, 0, row);
    }
  }

  /** The latest row of the key at or before t, if it is at most `within` old. */
  asOf(key: string, t: number, within: number | undefined): Row | undefined {
    const v = this.byKey.get(key);
    if (v === undefined) return undefined;
    let lo = 0;
    let hi = v.ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((v.ts[mid] as number) <= t) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return undefined;
    if (within !== undefined && t - (v.ts[lo - 1] as number) > within) return undefined;
    return v.rows[lo - 1];
  }

  /** Forgets versions no lookup at or after `t` can need: all but the latest one at or before t. */
  trim(t: number): void {
    if (t <= this.trimmedTo) return;
    this.trimmedTo = t;
    for (const v of this.byKey.values()) {
      let keep = 0;
      while (keep + 1 < v.ts.length && (v.ts[keep + 1] as number) <= t) keep++;
      if (keep > 0) {
        v.ts.splice(0, keep);
        v.rows.splice(0, keep);
      }
    }
  }
}

/** Joins a batch with the right side as of each row's event time. */
export function lookupJoin(node: JoinNode, state: LookupState, { rows, ts }: Batch): Batch {
  const outRows: Row[] = [];
  const outTs: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Row;
    const t = ts[i] as number;
    const match = state.asOf(encodeKey(node.on.map((f) => row[f])), t, node.within);
    if (match === undefined && node.how === "inner") continue;
    const out: Row = { ...row };
    for (const { from, as } of node.fields) out[as] = match === undefined ? null : (match[from] ?? null);
    outRows.push(out);
    outTs.push(t);
  }
  return { rows: outRows, ts: Float64Array.from(outTs) };
}

/**
 * Input rows of a joined table waiting for the right side: a row at time t
 * is joined only once no right row at or before t can still arrive, so that
 * a live join sees what a replay of the history sees.
 */
export class HeldRows {
  private rows: Row[] = [];
  private ts: number[] = [];
  /** The earliest held time (Infinity when none). */
  minTime = Number.POSITIVE_INFINITY;

  get size(): number {
    return this.rows.length;
  }

  hold({ rows, ts }: Batch): void {
    for (let i = 0; i < rows.length; i++) {
      const t = ts[i] as number;
      this.rows.push(rows[i] as Row);
      this.ts.push(t);
      if (t < this.minTime) this.minTime = t;
    }
  }

  /** Takes the rows with time < frontier, in event-time order (ties in arrival order). */
  take(frontier: number): Batch {
    if (this.minTime >= frontier) return { rows: [], ts: new Float64Array(0) };
    const idx: number[] = [];
    const keepRows: Row[] = [];
    const keepTs: number[] = [];
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.rows.length; i++) {
      const t = this.ts[i] as number;
      if (t < frontier) idx.push(i);
      else {
        keepRows.push(this.rows[i] as Row);
        keepTs.push(t);
        if (t < min) min = t;
      }
    }
    this.minTime = min;
    idx.sort((a, b) => (this.ts[a] as number) - (this.ts[b] as number) || a - b);
    const out = { rows: idx.map((i) => this.rows[i] as Row), ts: Float64Array.from(idx, (i) => this.ts[i] as number) };
    this.rows = keepRows;
    this.ts = keepTs;
    return out;
  }
}
