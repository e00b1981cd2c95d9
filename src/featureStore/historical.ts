import { encodeKey, keyGroupOf } from "../core/keys.js";
import { StringCodes } from "../core/stringCodes.js";
import { compileExtract } from "../engine/columnExtract.js";
import { AggregateOperator, type EmitSink } from "../engine/aggregateOperator.js";
import { KeyState } from "../engine/keyState.js";
import type { TableRuntime } from "../engine/runtime.js";
import type { OperatorTableRuntime } from "../engine/operatorTable.js";
import { compileSteps } from "../engine/rowSteps.js";
import { pipelineOf, type Pipeline, type PlanNode, type Row, type SourceDef } from "../plan/nodes.js";
import { LookupState, lookupJoin } from "../engine/lookupJoin.js";
import { branchSteps } from "../engine/branchSteps.js";
import type { Batch, RowSteps } from "../engine/rowSteps.js";
import type { HistoryBatch, HistoryStore } from "../stores/offline/historyStore.js";
import { sortByEventTime } from "./inputs.js";

const CHUNK = 65_536;

/** The source datasets a table reads: its source, a joined dataset, the other sources of a union. */
export function sourcesOf(table: TableRuntime): SourceDef[] {
  const all = [table.source.def, ...(table.join === undefined ? [] : [table.join.right.def]), ...(table.union?.sources.map((s) => s.def) ?? [])];
  return all.filter((d, i) => all.findIndex((o) => o.name === d.name) === i);
}

/**
 * Rebuilds a table's keyed state from the full history of its sources
 * (`histories` by dataset name), replayed in event-time order through the
 * table's own pipeline (fresh steps) and aggregate (a fresh one by default).
 * Nothing is evicted, so the result can answer as-of reads at any time. A
 * join looks up the joined dataset's whole history; a union merges its
 * branches in event-time order.
 */
export function replayHistory(
  table: TableRuntime,
  histories: ReadonlyMap<string, HistoryBatch>,
  op = new AggregateOperator(table.def.name, table.def.root),
  emit?: EmitSink,
): AggregateOperator {
  const p = pipelineOf(table.def.root);
  const history = (name: string): HistoryBatch => histories.get(name) ?? { rows: [], ts: new Float64Array(0) };
  const lateness = table.source.def.lateness;
  let input: { rows: Row[]; ts: Float64Array };
  if (p.branches !== undefined) {
    input = branchInput(table.def.name, p, history, lateness);
  } else {
    input = sortByEventTime([history(table.source.def.name)]);
  }
  const pre = compileSteps(p.branches === undefined ? p.pre : [], lateness);
  const post = compileSteps(p.post, lateness);
  let lookup: LookupState | undefined;
  if (p.join !== undefined) {
    lookup = new LookupState(p.join.right.keys);
    const right = history(p.join.right.name);
    lookup.add(right.rows, right.ts);
  }
  // The steps do not depend on the aggregate: every chunk goes through them
  // first, so that a fresh operator's keys can be sized before the events arrive.
  const batches: Batch[] = [];
  for (let start = 0; start < input.rows.length; start += CHUNK) {
    const end = Math.min(input.rows.length, start + CHUNK);
    let b = pre({ rows: input.rows.slice(start, end), ts: input.ts.subarray(start, end) });
    pre.commit();
    if (p.join !== undefined && lookup !== undefined) b = lookupJoin(p.join, lookup, b);
    // A union's or interval join's steps after it ran in branchInput.
    if (p.join !== undefined) {
      b = post(b);
      post.commit();
    }
    batches.push(b);
  }
  if (op.states.size === 0 && op.loader === undefined) sizeKeys(op, batches);
  for (const b of batches) {
    op.process(b.rows, b.ts, emit !== undefined);
    // Rows at times below the chunk's last are final (ties may continue in the next chunk).
    const last = b.ts.length > 0 ? (b.ts[b.ts.length - 1] as number) : Number.NEGATIVE_INFINITY;
    if (emit !== undefined) op.emit(last, emit);
  }
  if (emit !== undefined) op.emit(Number.POSITIVE_INFINITY, emit);
  return op;
}

/**
 * replayHistory of the usual table (one source, no join or union, only
 * count/sum/avg/min/max) into a fresh aggregate, reading the history a batch
 * at a time: each batch's rows go through the steps, leave only their keys'
 * numbers, times and aggregated fields behind, and die young. Holding every
 * row of the history at once instead cost a first point-in-time read on the
 * flights data about a third of its time in collections. Undefined when the
 * table is not that case, or its history is not in event-time order (then
 * replayHistory sorts it).
 */
export async function replayHistoryStreamed(table: TableRuntime, history: HistoryStore): Promise<AggregateOperator | undefined> {
  const p = pipelineOf(table.def.root);
  const op = new AggregateOperator(table.def.name, table.def.root);
  const layout = op.layout;
  if (p.branches !== undefined || p.join !== undefined || !layout.basic) return undefined;
  const def = table.source.def;
  const pre = compileSteps(p.pre, def.lateness);
  const extract = compileExtract(layout.keys, layout.fields);
  // Keys numbered in first-seen order, with their values and event counts.
  const codes = new StringCodes();
  const idOfCode: number[] = [];
  const keys: Array<{ key: string; values: unknown[] }> = [];
  const miss = (row: Row, key: string): number => {
    const id = keys.length;
    keys.push({ key, values: layout.keys.map((f) => row[f]) });
    idOfCode[codes.code(key)] = id;
    return id;
  };
  const parts: Array<{ ids: Int32Array; ts: Float64Array; cols: Float64Array[] }> = [];
  let last = Number.NEGATIVE_INFINITY;
  for await (const h of history.batches(def.name, def.schema, def.timestamp)) {
    for (let start = 0; start < h.rows.length; start += CHUNK) {
      const end = Math.min(h.rows.length, start + CHUNK);
      const ts = h.ts.subarray(start, end);
      for (let i = 0; i < ts.length; i++) {
        const t = ts[i] as number;
        if (t < last) return undefined;
        last = t;
      }
      const b = pre({ rows: h.rows.slice(start, end), ts });
      pre.commit();
      const ids = new Int32Array(b.rows.length);
      const cols = layout.fields.map(() => new Float64Array(b.rows.length));
      extract(b.rows, codes, idOfCode, miss, ids, cols);
      parts.push({ ids, ts: b.ts, cols });
    }
  }
  const counts = new Int32Array(keys.length);
  for (const part of parts) for (let i = 0; i < part.ids.length; i++) (counts[part.ids[i] as number] as number)++;
  // Each key's arrays sized for all its events (see sizeKeys).
  const byId = keys.map(({ key, values }, id) => new KeyState(key, values, keyGroupOf(key), layout, Math.max(8, counts[id] as number)));
  for (const st of byId) op.adopt(st);
  for (const part of parts) op.processColumns(byId, part.ids, part.ts, part.cols, false);
  return op;
}

/**
 * The rows a union or interval join feeds its aggregate, in event-time order,
 * as the runtime made them. Rows recorded without an arrival number (before
 * any table merged their source) go first, one source after another, each
 * in event-time order: as applying the table replayed them. Then every
 * numbered batch, in the order it was processed, through the same steps,
 * leaving out the rows the table dropped as late (BatchArrival.lateFor):
 * events of different sources at the same time keep the order in which the
 * runtime aggregated them, so first/last and float sums agree exactly with
 * the online state. Nothing is forgotten (watermarks stay at −∞), so an
 * interval join makes every pair it made online.
 */
function branchInput(
  table: string,
  p: Pipeline,
  history: (name: string) => HistoryBatch,
  lateness: number,
  steps: ReadonlyMap<string, RowSteps> = branchSteps(p, lateness, () => ({ left: Number.NEGATIVE_INFINITY, right: Number.NEGATIVE_INFINITY })),
): { rows: Row[]; ts: Float64Array } {
  const outs: Batch[] = [];
  const run = (name: string, b: Batch, lateBefore = Number.NEGATIVE_INFINITY): void => {
    const s = steps.get(name) as RowSteps;
    const out = s(b);
    s.commit();
    // What the table dropped as late (behind its watermark, the source having been idle) stays out.
    outs.push(lateBefore === Number.NEGATIVE_INFINITY ? out : keepFrom(out, lateBefore));
  };
  const batches: Array<{ arrival: number; name: string; b: Batch; lateBefore: number | undefined }> = [];
  for (const name of steps.keys()) {
    const h = history(name);
    const a = h.arrivals;
    if (a === undefined) {
      run(name, sortByEventTime([h]));
      continue;
    }
    const unnumbered: number[] = [];
    for (let i = 0; i < a.length; ) {
      // A batch's rows are next to each other in its source's history.
      let j = i + 1;
      while (j < a.length && a[j] === a[i]) j++;
      if (a[i] === 0) for (let k = i; k < j; k++) unnumbered.push(k);
      else batches.push({ arrival: a[i] as number, name, b: { rows: h.rows.slice(i, j), ts: h.ts.subarray(i, j) }, lateBefore: h.lateFor?.get(a[i] as number)?.[table] });
      i = j;
    }
    run(name, sortByEventTime([{ rows: unnumbered.map((k) => h.rows[k] as Row), ts: Float64Array.from(unnumbered, (k) => h.ts[k] as number) }]));
  }
  batches.sort((x, y) => x.arrival - y.arrival);
  for (const { name, b, lateBefore } of batches) run(name, b, lateBefore);
  return sortByEventTime(outs);
}

/** Whether a table's steps keep rows between batches (an interval join, a dedup anywhere). */
export function keepsRows(root: PlanNode): boolean {
  const p = pipelineOf(root);
  const steps = [...p.pre, ...(p.branches ?? []).flatMap((b) => b.steps), ...p.post];
  return p.interval !== undefined || steps.some((s) => s.kind === "dedup");
}

/**
 * Runs a table's history through its own online steps, in the order it was
 * processed, and drops the output: afterwards the steps hold what they would
 * hold had the rows arrived online (an interval join forgets by the sources'
 * current watermarks). A union's or interval join's batches go as
 * branchInput orders them; one source's history through the steps before
 * its lookup join and, when the steps after it keep rows, the join (its
 * lookups loaded first) and those steps.
 */
export function seedSteps(table: TableRuntime, histories: ReadonlyMap<string, HistoryBatch>): void {
  const p = pipelineOf(table.def.root);
  if (table.union !== undefined) {
    const history = (name: string): HistoryBatch => histories.get(name) ?? { rows: [], ts: new Float64Array(0) };
    branchInput(table.def.name, p, history, table.source.def.lateness, table.union.steps);
    return;
  }
  const h = histories.get(table.source.def.name);
  if (h === undefined) return;
  const out = table.steps({ rows: h.rows as Row[], ts: h.ts });
  table.steps.commit();
  const j = table.join;
  if (j === undefined || j.right.lookup === undefined || !p.post.some((s) => s.kind === "dedup")) return;
  j.post(lookupJoin(j.node, j.right.lookup, out));
  j.post.commit();
}

/** The rows at or after `from`. */
function keepFrom(b: Batch, from: number): Batch {
  const idx: number[] = [];
  for (let i = 0; i < b.ts.length; i++) if ((b.ts[i] as number) >= from) idx.push(i);
  return { rows: idx.map((i) => b.rows[i] as Row), ts: Float64Array.from(idx, (i) => b.ts[i] as number) };
}

/**
 * Creates each key's state with room for all its events. Grown by doubling
 * instead, a replay of millions of events allocates twice their size in
 * typed arrays, and V8 answers that external memory with full collections
 * of the whole heap (seconds on flights-3m).
 */
function sizeKeys(op: AggregateOperator, batches: readonly Batch[]): void {
  const keys = op.layout.keys;
  const single = keys.length === 1 ? (keys[0] as string) : undefined;
  const counts = new Map<string, { n: number; row: Row }>();
  for (const b of batches) {
    for (const row of b.rows) {
      let key: string;
      if (single !== undefined) {
        // As AggregateOperator.process encodes keys.
        const k = row[single];
        key = typeof k === "string" ? k : String(k);
      } else {
        key = encodeKey(keys.map((f) => row[f]));
      }
      const c = counts.get(key);
      if (c === undefined) counts.set(key, { n: 1, row });
      else c.n++;
    }
  }
  for (const [key, c] of counts) {
    op.adopt(new KeyState(key, keys.map((f) => c.row[f]), keyGroupOf(key), op.layout, Math.max(8, c.n)));
  }
}

/** Rebuilds an operator table's outputs from its source's history, in event-time order. */
export async function replayOperatorHistory(table: OperatorTableRuntime, history: HistoryBatch): Promise<void> {
  const sorted = sortByEventTime([history]);
  for (let start = 0; start < sorted.rows.length; start += CHUNK) {
    const end = Math.min(sorted.rows.length, start + CHUNK);
    const b = table.steps({ rows: sorted.rows.slice(start, end), ts: sorted.ts.subarray(start, end) });
    table.steps.commit();
    table.commit(await table.compute(b));
  }
}
