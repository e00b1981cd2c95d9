import { parseFields } from "../core/fieldCheck.js";
import { encodeKey } from "../core/keys.js";
import { SchemaError } from "../errors.js";
import { stepChain, type OperatorTableDef, type Row } from "../plan/nodes.js";
import { compileSteps, type Batch, type RowSteps } from "./rowSteps.js";
import type { SourceRuntime } from "./runtime.js";
import { PolicyRuntime } from "./policies/policyRuntime.js";
import type { PolicyStats } from "./policies/policyStats.js";

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
  /** Online, with a policy: the operator inputs to offer it, in arrival order (no outputs then). */
  readonly pending?: ReadonlyArray<{ id: string; input: unknown; t: number; error: number; value: number | undefined }>;
}

/** How a batch reaches the operator: every input computed (replays), or offered to the table's policy (online pushes). */
export type ComputeMode = "exact" | "online";

/**
 * A table computed by a custom operator (ralf's operators). Each key's
 * inputs, a record or a count window of records, are handed to the user's
 * function in order; keys run concurrently up to the operator's limit. The
 * outputs of a batch are staged and only become the table's values once every
 * key succeeded, so a failing operator leaves the table as it was. Reads as of
 * t return the latest output of the key with an event time at or before t,
 * the event time of an output being that of the record that triggered it.
 *
 * With a processing policy (`.policy({...})`), online batches only advance
 * the count windows and offer the operator inputs to the policy; `drain()`
 * then computes what the policy picks within its budget, outputs applied as
 * they come (they belong to batches committed before). Replays ("exact")
 * compute every input, so offline history stays exact.
 */
export class OperatorTableRuntime {
  readonly steps: RowSteps;
  private readonly states = new Map<string, KeyOutputs>();
  private readonly fields: readonly string[];
  readonly policy: PolicyRuntime | undefined;
  /** Policy workers computing queued updates. */
  private readonly workers = new Set<Promise<void>>();

  constructor(
    readonly def: OperatorTableDef,
    readonly source: SourceRuntime,
    /** The store's clock (processing time): the policy's budget reads it. */
    now: () => number = () => 0,
  ) {
    this.steps = compileSteps(stepChain(def.root), source.def.lateness);
    this.fields = Object.keys(def.root.output);
    this.policy = def.root.policy === undefined ? undefined : new PolicyRuntime(def.root.policy, now);
  }

  /** Event time up to which the table has its input: its source's watermark. */
  get watermark(): number {
    return this.source.watermark;
  }

  get keyCount(): number {
    return this.states.size;
  }

  /**
   * Runs the operator over a batch (after the steps) without changing the
   * table. Online with a policy, only the windows advance and the inputs are
   * staged for the policy (with their error and value, user code that may throw).
   */
  async compute({ rows, ts }: Batch, mode: ComputeMode = "exact"): Promise<StagedOutputs> {
    const node = this.def.root;
    const groups = new Map<string, Array<{ row: Row; t: number }>>();
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as Row;
      const id = encodeKey(node.keys.map((k) => row[k]));
      let g = groups.get(id);
      if (g === undefined) groups.set(id, (g = []));
      g.push({ row, t: ts[i] as number });
    }
    const ids = [...groups.keys()];
    const policy = this.policy;
    if (mode === "online" && policy !== undefined) return this.stageForPolicy(policy, ids, groups);
    const staged: StagedOutputs["states"] = new Map();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++] as string;
        const { st, inputs, ts: inputTs } = this.inputsOf(id, groups.get(id) as Array<{ row: Row; t: number }>);
        const outTs: number[] = [];
        const outRows: Row[] = [];
        for (let j = 0; j < inputs.length; j++) {
          await this.run(id, inputs[j], st.keyValues, outRows);
          while (outTs.length < outRows.length) outTs.push(inputTs[j] as number);
        }
        staged.set(id, { st, ts: outTs, rows: outRows });
      }
    };
    await Promise.all(Array.from({ length: Math.min(node.concurrency, ids.length) }, worker));
    return { states: staged };
  }

  private stageForPolicy(
    policy: PolicyRuntime,
    ids: readonly string[],
    groups: ReadonlyMap<string, Array<{ row: Row; t: number }>>,
  ): StagedOutputs {
    const { error, shed } = policy.def;
    const value = shed.kind === "moved" ? shed.value : undefined;
    const states: StagedOutputs["states"] = new Map();
    const pending: Array<{ id: string; input: unknown; t: number; error: number; value: number | undefined }> = [];
    for (const id of ids) {
      const { st, inputs, ts } = this.inputsOf(id, groups.get(id) as Array<{ row: Row; t: number }>);
      states.set(id, { st, ts: [], rows: [] });
      const current = st.rows[st.rows.length - 1] ?? null;
      for (let j = 0; j < inputs.length; j++) {
        const input = inputs[j];
        const t = ts[j] as number;
        const e = error === undefined ? 0 : error(current, input);
        const v = value === undefined ? undefined : value(input);
        if (!Number.isFinite(e) || e < 0) throw new SchemaError(`operator table "${this.def.name}": the policy's error function returned ${String(e)} for key ${id}; return a finite number >= 0`, { field: "error" });
        if (v !== undefined && !Number.isFinite(v)) throw new SchemaError(`operator table "${this.def.name}": the policy's value function returned ${String(v)} for key ${id}; return a finite number`, { field: "value" });
        pending.push({ id, input, t, error: e, value: v });
      }
    }
    return { states, pending };
  }

  /**
   * A key's operator inputs in a batch, each with its event time (parallel
   * arrays: no object per input), and its state advanced past them. The
   * window is copied; outputs are appended only at commit.
   */
  private inputsOf(id: string, items: ReadonlyArray<{ row: Row; t: number }>): { st: KeyOutputs; inputs: unknown[]; ts: number[] } {
    const node = this.def.root;
    const first = items[0]?.row as Row;
    const before = this.states.get(id);
    const st: KeyOutputs =
      before === undefined
        ? { keyValues: Object.fromEntries(node.keys.map((k) => [k, first[k]])), window: [], seen: 0, ts: [], rows: [] }
        : { keyValues: before.keyValues, window: before.window.slice(), seen: before.seen, ts: before.ts, rows: before.rows };
    const inputs: unknown[] = [];
    const ts: number[] = [];
    for (const { row, t } of items) {
      if (node.countWindow === undefined) {
        inputs.push(row);
        ts.push(t);
        continue;
      }
      const { size, slide } = node.countWindow;
      st.window.push(row);
      if (st.window.length > size) st.window.shift();
      st.seen++;
      if (st.seen < size || (st.seen - size) % slide !== 0) continue;
      inputs.push(st.window.slice());
      ts.push(t);
    }
    return { st, inputs, ts };
  }

  /** Calls the operator on one input and appends its checked output rows to `rows`. */
  private async run(id: string, input: unknown, keyValues: Row, rows: Row[]): Promise<void> {
    const node = this.def.root;
    const out = await node.fn(input, keyValues);
    for (const r of out === null || out === undefined ? [] : Array.isArray(out) ? out : [out]) {
      if (typeof r !== "object" || r === null) {
        throw new SchemaError(`operator table "${this.def.name}": the operator returned ${r === null ? "null" : typeof r} in a list for key ${id}; return rows (objects)`, { field: "output" });
      }
      rows.push(parseFields(node.output, r as Row, `operator table "${this.def.name}", output for key ${id}`, rows.length));
    }
  }

  commit(staged: StagedOutputs): void {
    for (const [id, { st, ts, rows }] of staged.states) {
      for (let i = 0; i < ts.length; i++) {
        st.ts.push(ts[i] as number);
        st.rows.push(rows[i] as Row);
      }
      this.states.set(id, st);
      // A replay computed these inputs outside the policy: the key is up to date with them.
      if (this.policy !== undefined && staged.pending === undefined && ts.length > 0) this.policy.computedExactly(id, ts[ts.length - 1] as number);
    }
    for (const p of staged.pending ?? []) this.policy?.offer(p.id, p.input, p.t, p.error, p.value);
  }

  /**
   * Computes queued updates in the policy's order within its budget. With a
   * concurrency budget the work goes on in the background (see settled());
   * otherwise the returned promise ends when the budget or the queue is spent.
   * An operator that throws loses that update: counted (failed, lastError).
   */
  drain(): Promise<void> {
    const policy = this.policy;
    if (policy === undefined) return Promise.resolve();
    const limit = policy.def.budget.concurrency ?? this.def.root.concurrency;
    while (this.workers.size < limit && policy.hasPending && policy.allowance() >= 1) {
      const w: Promise<void> = this.work(policy).finally(() => this.workers.delete(w));
      this.workers.add(w);
    }
    return policy.def.budget.concurrency === undefined ? this.settled() : Promise.resolve();
  }

  /** Ends when no policy worker is computing. */
  async settled(): Promise<void> {
    while (this.workers.size > 0) await Promise.all([...this.workers]);
  }

  private async work(policy: PolicyRuntime): Promise<void> {
    for (let u = policy.take(); u !== undefined; u = policy.take()) {
      const id = u.key.id;
      const st = this.states.get(id);
      if (st === undefined) continue;
      const rows: Row[] = [];
      try {
        await this.run(id, u.input, st.keyValues, rows);
      } catch (e) {
        policy.failed(e);
        continue;
      }
      // Another worker may have computed a newer input of the key meanwhile.
      if (policy.superseded(u)) continue;
      const current = this.states.get(id) ?? st;
      for (const r of rows) {
        current.ts.push(u.t);
        current.rows.push(r);
      }
      policy.computed(u);
    }
  }

  /** A runtime of the same table without its policy (every input computed), empty: offline reads replay history into it. */
  exactReplica(): OperatorTableRuntime {
    const { policy: _policy, ...root } = this.def.root;
    return new OperatorTableRuntime({ name: this.def.name, root }, this.source);
  }

  /** The policy's metrics (undefined for a table without one). */
  policyStats(): PolicyStats | undefined {
    return this.policy?.stats((id) => {
      const st = this.states.get(id);
      return st === undefined ? {} : { ...st.keyValues };
    });
  }

  /** The latest output of each key as of its time: key fields plus the output fields (null before any output). */
  read(keys: readonly Row[], timeOf: (i: number) => number): Row[] {
    return keys.map((k, i) => {
      const id = encodeKey(this.def.root.keys.map((f) => k[f]));
      const st = this.states.get(id);
      this.policy?.read(id);
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
