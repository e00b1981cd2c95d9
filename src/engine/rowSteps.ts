import { encodeKey } from "../core/keys.js";
import type { DedupNode, Row, StepNode } from "../plan/nodes.js";

/** A batch of rows with their event times; times travel with rows through every step. */
export interface Batch {
  rows: Row[];
  ts: Float64Array;
}

export type BatchStep = (batch: Batch) => Batch;

/**
 * A pipeline's row steps as one function over batches. Steps with state
 * (dedup) only stage what a batch changes: `commit` keeps it once every table
 * took the batch, `rollback` forgets it when something failed, so a rejected
 * batch leaves no trace.
 */
export interface RowSteps extends BatchStep {
  commit(): void;
  rollback(): void;
}

interface Stateful {
  commit(): void;
  rollback(): void;
}

/** Compiles a pipeline's steps; `lateness` (of its source) bounds how long dedup remembers a row. */
export function compileSteps(chain: readonly StepNode[], lateness = 0): RowSteps {
  const stateful: Stateful[] = [];
  const steps = chain.map((node) => {
    if (node.kind !== "dedup") return compileStep(node);
    const d = new DedupStep(node, lateness);
    stateful.push(d);
    return (b: Batch) => d.run(b);
  });
  const run: BatchStep =
    steps.length === 0
      ? (b) => b
      : (b) => {
          let cur = b;
          for (const step of steps) cur = step(cur);
          return cur;
        };
  return Object.assign(run, {
    commit: () => stateful.forEach((s) => s.commit()),
    rollback: () => stateful.forEach((s) => s.rollback()),
  });
}

/** Keeps rows whose times pass a test, with their times. */
function keepWhere(rows: readonly Row[], ts: ArrayLike<number>, keep: (r: Row, t: number) => boolean): Batch {
  const outRows = new Array<Row>(rows.length);
  const outTs = new Float64Array(rows.length);
  let n = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as Row;
    const t = ts[i] as number;
    if (keep(r, t)) {
      outTs[n] = t;
      outRows[n++] = r;
    }
  }
  outRows.length = n;
  return { rows: outRows, ts: outTs.subarray(0, n) };
}

/** The rows before `dropped` (whose row failed `pred`), then those after it that pass. */
function keepFrom(rows: readonly Row[], ts: Float64Array, dropped: number, pred: (r: Row) => boolean): Batch {
  const outRows = new Array<Row>(rows.length - 1);
  const outTs = new Float64Array(rows.length - 1);
  for (let i = 0; i < dropped; i++) outRows[i] = rows[i] as Row;
  outTs.set(ts.subarray(0, dropped));
  let n = dropped;
  for (let i = dropped + 1; i < rows.length; i++) {
    const r = rows[i] as Row;
    if (pred(r)) {
      outTs[n] = ts[i] as number;
      outRows[n++] = r;
    }
  }
  outRows.length = n;
  return { rows: outRows, ts: outTs.subarray(0, n) };
}

/**
 * Drops a row when the latest kept row with the same `by` values is less than
 * `window` away in event time. Rows arriving in event-time order keep the
 * first of each run of duplicates; among rows arriving out of order the first
 * to arrive wins. Entries are forgotten once no row they could match can
 * still arrive (older than the newest time seen minus window and lateness).
 */
class DedupStep implements Stateful {
  private readonly kept = new Map<string, number>();
  private readonly staged = new Map<string, number>();
  private maxTs = Number.NEGATIVE_INFINITY;
  private stagedMaxTs = Number.NEGATIVE_INFINITY;
  private sizeAtPurge = 0;

  constructor(
    private readonly node: DedupNode,
    private readonly lateness: number,
  ) {}

  run({ rows, ts }: Batch): Batch {
    const by = this.node.by;
    const w = this.node.window;
    return keepWhere(rows, ts, (r, t) => {
      const key = encodeKey(by.length === 0 ? Object.keys(r).sort().map((f) => `${f}=${String(r[f])}`) : by.map((f) => r[f]));
      const last = this.staged.get(key) ?? this.kept.get(key);
      if (t > this.stagedMaxTs) this.stagedMaxTs = t;
      if (last !== undefined && Math.abs(t - last) < w) return false;
      this.staged.set(key, last === undefined ? t : Math.max(last, t));
      return true;
    });
  }

  commit(): void {
    for (const [k, t] of this.staged) this.kept.set(k, t);
    this.staged.clear();
    if (this.stagedMaxTs > this.maxTs) this.maxTs = this.stagedMaxTs;
    if (this.kept.size > 2 * this.sizeAtPurge + 1024) {
      const horizon = this.maxTs - this.node.window - this.lateness;
      for (const [k, t] of this.kept) if (t < horizon) this.kept.delete(k);
      this.sizeAtPurge = this.kept.size;
    }
  }

  rollback(): void {
    this.staged.clear();
    this.stagedMaxTs = this.maxTs;
  }
}

function compileStep(node: Exclude<StepNode, DedupNode>): BatchStep {
  switch (node.kind) {
    case "filter": {
      // Its own loops, not keepWhere: the user's predicate stays a monomorphic call on the hottest step.
      const pred = node.predicate;
      return (b) => {
        const { rows, ts } = b;
        // Up to the first dropped row nothing is copied; a batch that keeps every row goes on as it is.
        let i = 0;
        while (i < rows.length && pred(rows[i] as Row)) i++;
        return i === rows.length ? b : keepFrom(rows, ts, i, pred);
      };
    }
    case "dropNull": {
      const fields = node.fields;
      return ({ rows, ts }) =>
        keepWhere(rows, ts, (r) => {
          if (fields.length === 0) {
            for (const f in r) if (r[f] === null || r[f] === undefined) return false;
            return true;
          }
          for (const f of fields) if (r[f] === null || r[f] === undefined) return false;
          return true;
        });
    }
    case "rename": {
      const mapping = node.mapping;
      return ({ rows, ts }) => ({
        rows: rows.map((r) => {
          const o: Row = {};
          for (const f in r) o[mapping[f] ?? f] = r[f];
          return o;
        }),
        ts,
      });
    }
    case "explode": {
      const field = node.field;
      return ({ rows, ts }) => {
        const outRows: Row[] = [];
        const outTs: number[] = [];
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i] as Row;
          const items = r[field];
          // A missing or empty list yields no rows; a non-list value is one element.
          const list = Array.isArray(items) ? items : items === null || items === undefined ? [] : [items];
          for (const item of list) {
            outRows.push({ ...r, [field]: item });
            outTs.push(ts[i] as number);
          }
        }
        return { rows: outRows, ts: Float64Array.from(outTs) };
      };
    }
    case "map": {
      const fn = node.fn;
      return ({ rows, ts }) => ({ rows: rows.map((r) => fn(r)), ts });
    }
    case "assign": {
      const { field, fn } = node;
      return ({ rows, ts }) => ({ rows: rows.map((r) => ({ ...r, [field]: fn(r) })), ts });
    }
    case "select": {
      const fields = node.fields;
      return ({ rows, ts }) => ({
        rows: rows.map((r) => {
          const o: Row = {};
          for (const f of fields) o[f] = r[f];
          return o;
        }),
        ts,
      });
    }
    case "drop": {
      const fields = node.fields;
      return ({ rows, ts }) => ({
        rows: rows.map((r) => {
          const o: Row = { ...r };
          for (const f of fields) delete o[f];
          return o;
        }),
        ts,
      });
    }
  }
}

/** `first`, then `then` on its output: one RowSteps committing and rolling back both. */
export function composeSteps(first: RowSteps, then: RowSteps): RowSteps {
  return Object.assign((b: Batch) => then(first(b)), {
    commit: () => {
      first.commit();
      then.commit();
    },
    rollback: () => {
      first.rollback();
      then.rollback();
    },
  });
}

/** A batch in event-time order (stable; the batch itself when it already is). */
export function byTime(b: Batch): Batch {
  let sorted = true;
  for (let i = 1; i < b.rows.length && sorted; i++) sorted = (b.ts[i - 1] as number) <= (b.ts[i] as number);
  if (sorted) return b;
  const idx = [...b.rows.keys()].sort((x, y) => (b.ts[x] as number) - (b.ts[y] as number) || x - y);
  return { rows: idx.map((i) => b.rows[i] as Row), ts: Float64Array.from(idx, (i) => b.ts[i] as number) };
}

/** Two batches, each in event-time order, as one (stable: ties keep `a`'s rows first, each batch's own order). */
export function mergeByTime(x: Batch, y: Batch): Batch {
  const rows: Row[] = [];
  const ts = new Float64Array(x.rows.length + y.rows.length);
  let i = 0;
  let j = 0;
  while (i < x.rows.length || j < y.rows.length) {
    const takeX = j >= y.rows.length || (i < x.rows.length && (x.ts[i] as number) <= (y.ts[j] as number));
    ts[rows.length] = takeX ? (x.ts[i] as number) : (y.ts[j] as number);
    rows.push(takeX ? (x.rows[i++] as Row) : (y.rows[j++] as Row));
  }
  return { rows, ts };
}

/** Both pipelines on the same batch, their rows merged in event-time order (ties: `a`'s first). */
export function mergeSteps(a: RowSteps, b: RowSteps): RowSteps {
  return Object.assign((batch: Batch) => mergeByTime(a(batch), b(batch)), {
    commit: () => {
      a.commit();
      b.commit();
    },
    rollback: () => {
      a.rollback();
      b.rollback();
    },
  });
}
