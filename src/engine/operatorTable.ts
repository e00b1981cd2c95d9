import { parseFields } from "../core/fieldCheck.js";
import { encodeKey } from "../core/keys.js";
import { SchemaError } from "../errors.js";
import { stepChain, type OperatorTableDef, type Row } from "../plan/nodes.js";
import { compileSteps, type Batch, type RowSteps } from "./rowSteps.js";
import type { SourceRuntime } from "./runtime.js";

/** One key's operator state: its recent records (count windows) and every output with its event time. */
interface KeyOutputs {
  readonly keyValues: Row;
  /** The last `size` records (count windows only), oldest first. */
  window: Row[];
  /** Records seen, for the slide. */
  seen: number;
  /** Output times, non-decreasing, and the output rows. */
  ts: number[];
  rows: Row[];
}

/** What one batch changes, kept aside until the whole batch has succeeded. */
export interface StagedOutputs {
  /** Per key: its new window state and the outputs to append. */
  readonly states: Map<string, { st: KeyOutputs; ts: number[]; rows: Row[] }>;
}

/**
 * A table computed by a custom operator (ralf's operators). Each key's
 * inputs, a record or a count window of records, are handed to the user's
 * function in order; keys run concurrently up to the operator's limit. The
 * outputs of a batch are staged and only become the table's values once every
 * key succeeded, so a failing operator leaves the table as it was. Reads as of
 * t return the latest output of the key with an event time at or before t,
 * the event time of an output being that of the record that triggered it.
 */
export class OperatorTableRuntime {
  readonly steps: RowSteps;
  private readonly states = new Map<string, KeyOutputs>();
  private readonly fields: readonly string[];

  constructor(
    readonly def: OperatorTableDef,
    readonly source: SourceRuntime,
  ) {
    this.steps = compileSteps(stepChain(def.root), source.def.lateness);
    this.fields = Object.keys(def.root.output);
  }

  /** Event time up to which the table has its input: its source's watermark. */
  get watermark(): number {
    return this.source.watermark;
  }

  get keyCount(): number {
    return this.states.size;
  }

  /** Runs the operator over a batch (after the steps) without changing the table. */
  async compute({ rows, ts }: Batch): Promise<StagedOutputs> {
    const node = this.def.root;
    const groups = new Map<string, Array<{ row: Row; t: number }>>();
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as Row;
      const id = encodeKey(node.keys.map((k) => row[k]));
      let g = groups.get(id);
      if (g === undefined) groups.set(id, (g = []));
      g.push({ row, t: ts[i] as number });
    }
    const staged: StagedOutputs["states"] = new Map();
    const ids = [...groups.keys()];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++] as string;
        const items = groups.get(id) as Array<{ row: Row; t: number }>;
        const first = items[0]?.row as Row;
        const before = this.states.get(id);
        // The window is copied; outputs are appended only at commit.
        const st: KeyOutputs =
          before === undefined
            ? { keyValues: Object.fromEntries(node.keys.map((k) => [k, first[k]])), window: [], seen: 0, ts: [], rows: [] }
            : { keyValues: before.keyValues, window: before.window.slice(), seen: before.seen, ts: before.ts, rows: before.rows };
        const outTs: number[] = [];
        const outRows: Row[] = [];
        for (const { row, t } of items) {
          let input: unknown = row;
          if (node.countWindow !== undefined) {
            const { size, slide } = node.countWindow;
            st.window.push(row);
            if (st.window.length > size) st.window.shift();
            st.seen++;
            if (st.seen < size || (st.seen - size) % slide !== 0) continue;
            input = st.window.slice();
          }
          const out = await node.fn(input, st.keyValues);
          for (const r of out === null || out === undefined ? [] : Array.isArray(out) ? out : [out]) {
            if (typeof r !== "object" || r === null) {
              throw new SchemaError(`operator table "${this.def.name}": the operator returned ${r === null ? "null" : typeof r} in a list for key ${id}; return rows (objects)`, { field: "output" });
            }
            outRows.push(parseFields(node.output, r as Row, `operator table "${this.def.name}", output for key ${id}`, outRows.length));
            outTs.push(t);
          }
        }
        staged.set(id, { st, ts: outTs, rows: outRows });
      }
    };
    await Promise.all(Array.from({ length: Math.min(node.concurrency, ids.length) }, worker));
    return { states: staged };
  }

  commit(staged: StagedOutputs): void {
    for (const [id, { st, ts, rows }] of staged.states) {
      for (let i = 0; i < ts.length; i++) {
        st.ts.push(ts[i] as number);
        st.rows.push(rows[i] as Row);
      }
      this.states.set(id, st);
    }
  }

  /** The latest output of each key as of its time: key fields plus the output fields (null before any output). */
  read(keys: readonly Row[], timeOf: (i: number) => number): Row[] {
    return keys.map((k, i) => {
      const st = this.states.get(encodeKey(this.def.root.keys.map((f) => k[f])));
      const t = timeOf(i);
      const r: Row = {};
      for (const f of this.def.root.keys) r[f] = k[f];
      let lo = 0;
      let hi = st === undefined ? 0 : st.ts.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (((st as KeyOutputs).ts[mid] as number) <= t) lo = mid + 1;
        else hi = mid;
      }
      const out = lo === 0 ? undefined : (st as KeyOutputs).rows[lo - 1];
      for (const f of this.fields) r[f] = out === undefined ? null : out[f];
      return r;
    });
  }

  /** Each key's latest output time; null for a key without outputs. */
  latestTimes(keys: readonly Row[]): Array<number | null> {
    return keys.map((k) => {
      const st = this.states.get(encodeKey(this.def.root.keys.map((f) => k[f])));
      const last = st?.ts[st.ts.length - 1];
      return last === undefined ? null : last;
    });
  }

  /** Every key's latest output (ralf's bulk query). */
  all(): Row[] {
    const out: Row[] = [];
    for (const st of this.states.values()) {
      const last = st.rows[st.rows.length - 1];
      out.push({ ...st.keyValues, ...Object.fromEntries(this.fields.map((f) => [f, last === undefined ? null : last[f]])) });
    }
    return out;
  }
}
