import { keyGroupOf } from "../../core/keys.js";
import { StringCodes } from "../../core/stringCodes.js";
import { compileExtract, type ExtractColumns } from "../columnExtract.js";
import type { Row } from "../../plan/nodes.js";
import type { AggregateOperator } from "../aggregateOperator.js";
import { lazyKeyRows, type EmittedRows } from "../emittedRows.js";
import type { KeyState } from "../keyState.js";
import { decodeKeyState, encodeKeyState } from "../stateCodec.js";
import { WorkerPool, type AggregateWorker } from "./pool.js";
import type { NewKey, Reply } from "./protocol.js";

type RowsReply = Extract<Reply, { t: "rows" }>;

/** How many batches a partitioned table may have in flight before the replay waits for the workers. */
const MAX_IN_FLIGHT = 2;

/**
 * One feature table's aggregate spread over worker threads for the length of
 * a replay. Key groups are the unit of distribution: the key group of a key
 * decides its worker, so a key's events always meet the same state, in order.
 *
 * The main thread keeps running the source and the stateless steps (they hold
 * user functions) and sends each batch as columns: key index, event time and
 * the aggregated fields. Workers run the same AggregateOperator code and send
 * back the emitted rows; the main thread hands them to the sink batch by
 * batch, worker by worker, so the order is deterministic. Closing brings
 * every key's state back into the table's operator.
 */
export class PartitionedAggregate {
  /** Encoded keys in first-seen order; keyCode[k] is the code of key k: worker w's key of index i is coded i * workers + w. */
  private readonly keys = new StringCodes();
  private readonly keyCode: number[] = [];
  private readonly keyValues: Array<Array<readonly unknown[]>>;
  /** Keys registered since the last batch sent to each worker, with the state they had here. */
  private newKeys: Array<Array<{ id: number; key: string; keyValues: readonly unknown[]; group: number; st: KeyState | undefined }>>;
  private readonly inFlight: Array<Array<Promise<Reply>>> = [];
  private readonly fields: readonly string[];
  private readonly keyFields: readonly string[];
  private readonly extract: ExtractColumns;

  private constructor(
    private readonly op: AggregateOperator,
    private readonly workers: readonly AggregateWorker[],
    private readonly parts: readonly number[],
  ) {
    this.keyValues = workers.map(() => []);
    this.newKeys = workers.map(() => []);
    this.fields = op.layout.fields;
    this.keyFields = op.layout.keys;
    this.extract = compileExtract(this.keyFields, this.fields);
  }

  /** Opens a partition of `op` on each of `n` workers and hands them the keys `op` holds in memory. */
  static async start(op: AggregateOperator, n: number): Promise<PartitionedAggregate> {
    const pool = WorkerPool.get();
    const workers = pool.take(n);
    const parts = workers.map(() => pool.newPartitionId());
    await Promise.all(workers.map((w, i) => w.request({ t: "open", part: parts[i] as number, table: op.tableName, spec: op.spec, horizon: op.horizon })));
    const p = new PartitionedAggregate(op, workers, parts);
    for (const st of op.release()) p.register(st.key, st.keyValues, st);
    return p;
  }

  private register(key: string, keyValues: readonly unknown[], st: KeyState | undefined): number {
    const n = this.workers.length;
    const group = st?.group ?? keyGroupOf(key);
    const w = group % n;
    const list = this.keyValues[w] as Array<readonly unknown[]>;
    const id = list.length;
    list.push(keyValues);
    this.newKeys[w]?.push({ id, key, keyValues, group, st });
    const code = id * n + w;
    this.keyCode[this.keys.code(key)] = code;
    return code;
  }

  /** Sends one batch of events (after the stateless steps) to the workers. */
  send(rows: readonly Row[], ts: Float64Array, watermark: number, emit: boolean): void {
    const n = this.workers.length;
    const len = rows.length;
    const codes = new Int32Array(len);
    const cols = this.fields.map(() => new Float64Array(len));
    this.extract(rows, this.keys, this.keyCode, this.onNewKey, codes, cols);
    let parts: Array<{ ids: Int32Array; ts: Float64Array; cols: Float64Array[] }>;
    if (n === 1) parts = [{ ids: codes, ts: ts.slice(), cols }];
    else {
      const counts = new Int32Array(n);
      for (let i = 0; i < len; i++) (counts[(codes[i] as number) % n] as number)++;
      parts = Array.from(counts, (c) => ({ ids: new Int32Array(c), ts: new Float64Array(c), cols: cols.map(() => new Float64Array(c)) }));
      const at = new Int32Array(n);
      for (let i = 0; i < len; i++) {
        const code = codes[i] as number;
        const w = code % n;
        const j = at[w] as number;
        at[w] = j + 1;
        const part = parts[w] as (typeof parts)[number];
        part.ids[j] = (code - w) / n;
        part.ts[j] = ts[i] as number;
        for (let f = 0; f < cols.length; f++) (part.cols[f] as Float64Array)[j] = (cols[f] as Float64Array)[i] as number;
      }
    }
    const replies = this.workers.map((worker, w) => {
      const newKeys = (this.newKeys[w] ?? []).map(
        (k): NewKey => ({
          id: k.id,
          key: k.key,
          keyValues: k.keyValues,
          group: k.group,
          state: k.st === undefined ? undefined : encodeKeyState(k.st),
          emitted: k.st === undefined ? 0 : Math.max(0, k.st.emitPos - k.st.first),
        }),
      );
      this.newKeys[w] = [];
      const part = parts[w] as (typeof parts)[number];
      const transfer = [part.ids.buffer, part.ts.buffer, ...part.cols.map((c) => c.buffer)] as ArrayBuffer[];
      return settled(
        worker.request({ t: "batch", part: this.parts[w] as number, newKeys, ids: part.ids, ts: part.ts, cols: part.cols, watermark, emit }, transfer),
      );
    });
    this.inFlight.push(replies);
  }

  /** A key not seen before in this replay: its index code, with the state the table already had for it. */
  private readonly onNewKey = (row: Row, key: string): number => this.register(key, this.keyFields.map((f) => row[f]), this.op.lookup(key));

  /** Waits until at most `keep` batches are in flight, handing finished batches' rows to `sink` in order. */
  async drain(sink: ((rows: EmittedRows) => void) | undefined, keep = MAX_IN_FLIGHT): Promise<void> {
    while (this.inFlight.length > keep) {
      const replies = await Promise.all(this.inFlight[0] as Array<Promise<Reply>>);
      this.inFlight.shift();
      replies.forEach((r, w) => {
        if (r.t === "rows") this.deliver(w, r, sink);
      });
    }
  }

  /**
   * Ends the partitioning: emits every pending row when `emit`, and puts every
   * key's state back into the table's operator. Runs even after a failed
   * replay, so that the state built so far is not lost.
   */
  async close(sink: ((rows: EmittedRows) => void) | undefined, emit: boolean): Promise<void> {
    let failure: unknown;
    try {
      await this.drain(sink, 0);
    } catch (e) {
      failure = e;
    }
    // States handed over but never sent (no batch reached their worker) are still here.
    for (const keys of this.newKeys) for (const k of keys) if (k.st !== undefined) this.op.adopt(k.st);
    this.newKeys = this.newKeys.map(() => []);
    const closed = await Promise.allSettled(this.workers.map((w, i) => w.request({ t: "close", part: this.parts[i] as number, emit })));
    for (let w = 0; w < closed.length; w++) {
      const c = closed[w] as PromiseSettledResult<Reply>;
      if (c.status === "rejected") {
        failure ??= c.reason;
        continue;
      }
      const r = c.value;
      if (r.t !== "closed") continue;
      for (const s of r.states) {
        const st = decodeKeyState(s.state, this.op.layout);
        st.emitPos = st.first + s.emitted;
        this.op.adopt(st);
      }
      if (r.horizon > this.op.horizon) this.op.horizon = r.horizon;
      if (failure === undefined && r.rows !== undefined) this.deliver(w, r.rows, sink);
    }
    if (failure !== undefined) throw failure;
  }

  private deliver(w: number, r: RowsReply, sink: ((rows: EmittedRows) => void) | undefined): void {
    if (r.n === 0 || sink === undefined) return;
    const byId = this.keyValues[w] as Array<readonly unknown[]>;
    sink(lazyKeyRows(r.n, r.ts, r.values, (keys) => fillKeys(keys, byId, r.ids)));
  }
}

/** keys[i] = byId[ids[i]]: a function of its own, compiled whole (see fitInt32 in columnLog.ts). */
function fillKeys(keys: Array<readonly unknown[]>, byId: ReadonlyArray<readonly unknown[]>, ids: Int32Array): void {
  for (let i = 0; i < keys.length; i++) keys[i] = byId[ids[i] as number] as readonly unknown[];
}

/** The same promise, marked handled: a worker failure surfaces where the reply is awaited, never as an unhandled rejection. */
function settled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
