import type { Row, StatelessNode } from "../plan/nodes.js";

/** A batch of rows with their event times; times travel with rows through every step. */
export interface Batch {
  rows: Row[];
  ts: Float64Array;
}

export type BatchStep = (batch: Batch) => Batch;

/** Compiles the stateless steps of a pipeline into one function over batches. */
export function compileSteps(chain: readonly StatelessNode[]): BatchStep {
  const steps = chain.map(compileStep);
  if (steps.length === 0) return (b) => b;
  return (b) => {
    let cur = b;
    for (const step of steps) cur = step(cur);
    return cur;
  };
}

function compileStep(node: StatelessNode): BatchStep {
  switch (node.kind) {
    case "filter": {
      const pred = node.predicate;
      return ({ rows, ts }) => {
        // Sized once for the whole batch (pushing one by one regrows the array many times per batch).
        const outRows = new Array<Row>(rows.length);
        const outTs = new Float64Array(rows.length);
        let n = 0;
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i] as Row;
          if (pred(r)) {
            outTs[n] = ts[i] as number;
            outRows[n++] = r;
          }
        }
        outRows.length = n;
        return { rows: outRows, ts: outTs.subarray(0, n) };
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
