import { AggregateOperator } from "../engine/aggregateOperator.js";
import type { TableRuntime } from "../engine/runtime.js";
import type { OperatorTableRuntime } from "../engine/operatorTable.js";
import { compileSteps } from "../engine/rowSteps.js";
import { pipelineOf, stepChain } from "../plan/nodes.js";
import { LookupState, lookupJoin } from "../engine/lookupJoin.js";
import type { HistoryBatch } from "../stores/offline/historyStore.js";
import { sortByEventTime } from "./inputs.js";

const CHUNK = 65_536;

/**
 * Rebuilds a table's keyed state from the full history of its source, replayed
 * in event-time order through the table's own pipeline steps and aggregate
 * (a fresh one by default). Nothing is evicted, so the result can answer
 * as-of reads at any time.
 */
export function replayHistory(
  table: TableRuntime,
  history: HistoryBatch,
  op = new AggregateOperator(table.def.name, table.def.root),
  /** A joined table: the joined dataset's whole history. */
  rightHistory?: HistoryBatch,
): AggregateOperator {
  const sorted = sortByEventTime([history]);
  // Fresh steps: a dedup's memory of the live pipeline must not leak into the replay.
  const p = pipelineOf(table.def.root);
  const lateness = table.source.def.lateness;
  const pre = compileSteps(p.pre, lateness);
  const post = compileSteps(p.post, lateness);
  let lookup: LookupState | undefined;
  if (p.join !== undefined) {
    lookup = new LookupState(p.join.right.keys);
    if (rightHistory !== undefined) lookup.add(rightHistory.rows, rightHistory.ts);
  }
  for (let start = 0; start < sorted.rows.length; start += CHUNK) {
    const end = Math.min(sorted.rows.length, start + CHUNK);
    let b = pre({ rows: sorted.rows.slice(start, end), ts: sorted.ts.subarray(start, end) });
    pre.commit();
    if (p.join !== undefined && lookup !== undefined) {
      b = post(lookupJoin(p.join, lookup, b));
      post.commit();
    }
    op.process(b.rows, b.ts, false);
  }
  return op;
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
