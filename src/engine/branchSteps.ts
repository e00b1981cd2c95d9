import type { Pipeline } from "../plan/nodes.js";
import { IntervalJoinState } from "./intervalJoin.js";
import { byTime, compileSteps, composeSteps, mergeByTime, mergeSteps, type Batch, type RowSteps } from "./rowSteps.js";

/** The two sources' watermarks, by which an interval join forgets rows that can no longer pair. */
export type JoinWatermarks = () => { left: number; right: number };

/**
 * For a union or an interval join: the steps a batch of each source goes
 * through, by source name. A union runs the batch through its source's
 * branch (both branches, merged by time, when one source feeds both); an
 * interval join adds the batch to its side and returns the pairs it makes.
 * Then the steps after the union or join. `lateness` is the table's source's.
 * The runtime and a replay of history (see replayHistory) build the same.
 */
export function branchSteps(p: Pipeline, lateness: number, watermarks: JoinWatermarks): Map<string, RowSteps> {
  const branches = p.branches ?? [];
  const post = compileSteps(p.post, lateness);
  const steps = new Map<string, RowSteps>();
  if (p.interval !== undefined) {
    const [l, r] = branches;
    if (l === undefined || r === undefined) throw new Error("an interval join has two branches");
    const state = new IntervalJoinState(p.interval, watermarks);
    const stateful = (fn: (b: Batch) => Batch): RowSteps => Object.assign(fn, { commit: () => state.commit(), rollback: () => state.rollback() });
    const leftSteps = compileSteps(l.steps, l.source.lateness);
    const rightSteps = compileSteps(r.steps, r.source.lateness);
    if (l.source.name === r.source.name) {
      // One source on both sides: its rows are left rows and right rows.
      const self: RowSteps = Object.assign((b: Batch) => mergeByTime(byTime(state.addLeft(leftSteps(b))), byTime(state.addRight(rightSteps(b)))), {
        commit: () => {
          leftSteps.commit();
          rightSteps.commit();
          state.commit();
        },
        rollback: () => {
          leftSteps.rollback();
          rightSteps.rollback();
          state.rollback();
        },
      });
      steps.set(l.source.name, composeSteps(self, post));
    } else {
      steps.set(l.source.name, composeSteps(composeSteps(leftSteps, stateful((b) => state.addLeft(b))), post));
      steps.set(r.source.name, composeSteps(composeSteps(rightSteps, stateful((b) => state.addRight(b))), post));
    }
    return steps;
  }
  const bySource = new Map<string, RowSteps>();
  for (const br of branches) {
    const s = compileSteps(br.steps, br.source.lateness);
    const prev = bySource.get(br.source.name);
    bySource.set(br.source.name, prev === undefined ? s : mergeSteps(prev, s));
  }
  for (const [name, s] of bySource) steps.set(name, composeSteps(s, post));
  return steps;
}
