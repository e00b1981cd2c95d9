/** The table the generated-kernel property tests run: every kind of window and algebra the kernels compile. */
import { t } from "../../src/core/schema.js";
import { avg, count, forever, hopping, max, min, stddev, sum, tumbling, variance } from "../../src/dsl/aggregations.js";
import { dataset } from "../../src/dsl/dataset.js";
import type { KeyState } from "../../src/engine/keyState.js";

export const kernelEvents = dataset("ev", { k: t.string(), a: t.float().optional(), b: t.float(), ts: t.timestamp() }, { timestamp: "ts" });

/** Sliding windows w1 and w2, hopping (hop × hops every hop), tumbling w2 and forever. */
export function kernelTable(w1: number, w2: number, hop: number, hops: number) {
  return kernelEvents
    .groupBy("k")
    .aggregate({
      n: count({ window: w1 }),
      s: sum("a", { window: w2 }),
      m: avg("b", { window: w1 }),
      lo: min("a", { window: w2 }),
      hi: max("b", { window: hopping(hop * hops, hop) }),
      n2: count({ window: tumbling(w2) }),
      v: variance("a", { window: hopping(hop * hops, hop) }),
      sd: stddev("b", { window: forever() }),
      total: sum("b", { window: forever() }),
      top: max("a", { window: forever() }),
    })
    .as("t");
}

/** Moves every key's absolute positions up by `shift`, as after that many earlier events (evicted long ago). */
export function shiftPositions(states: Iterable<KeyState>, shift: number): void {
  for (const st of states) {
    st.off += shift;
    st.first += shift;
    st.end += shift;
    st.emitPos += shift;
    st.originPos += shift;
  }
}
