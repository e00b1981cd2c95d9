/**
 * An aggregate worker thread: holds the key states of its partitions and runs
 * the same AggregateOperator code as the main thread on the columns it is sent.
 */
import { parentPort } from "node:worker_threads";
import { AggregateOperator, type CollectedRows } from "../aggregateOperator.js";
import { KeyState } from "../keyState.js";
import { decodeKeyState, encodeKeyState } from "../stateCodec.js";
import type { KeyStateTransfer, Reply, Request } from "./protocol.js";

interface Partition {
  readonly op: AggregateOperator;
  readonly byId: KeyState[];
}

const partitions = new Map<number, Partition>();

function rowsReply(c: CollectedRows | undefined): Extract<Reply, { t: "rows" }> {
  if (c === undefined) return { t: "rows", n: 0, ids: new Int32Array(0), ts: new Float64Array(0), values: [] };
  const ids = new Int32Array(c.length);
  let from = 0;
  for (let r = 0; r < c.runs.length; r++) {
    const to = c.runEnds[r] as number;
    ids.fill((c.runs[r] as KeyState).slot, from, to);
    from = to;
  }
  // Partitions only hold basic layouts (Layout.basic), whose features are all numeric.
  return { t: "rows", n: c.length, ids, ts: c.ts, values: c.values as Float64Array[] };
}

function partition(part: number): Partition {
  const p = partitions.get(part);
  if (p === undefined) throw new Error(`aggregate worker: unknown partition ${part}`);
  return p;
}

function handle(m: Request): Reply {
  switch (m.t) {
    case "open": {
      const op = new AggregateOperator(m.table, m.spec);
      op.horizon = m.horizon;
      partitions.set(m.part, { op, byId: [] });
      return { t: "ok" };
    }
    case "batch": {
      const p = partition(m.part);
      for (const k of m.newKeys) {
        let st: KeyState;
        if (k.state !== undefined) {
          st = decodeKeyState(k.state, p.op.layout);
          st.emitPos = st.first + k.emitted;
        } else {
          st = new KeyState(k.key, k.keyValues, k.group, p.op.layout);
        }
        st.slot = k.id;
        p.byId[k.id] = st;
        p.op.adopt(st);
      }
      p.op.processColumns(p.byId, m.ids, m.ts, m.cols, m.emit);
      const out = m.emit ? rowsReply(p.op.collect(m.watermark)) : ({ t: "ok" } as const);
      p.op.advanceWatermark(m.watermark);
      return out;
    }
    case "close": {
      const p = partition(m.part);
      partitions.delete(m.part);
      const rows = m.emit ? rowsReply(p.op.collect(Number.POSITIVE_INFINITY)) : undefined;
      const states: KeyStateTransfer[] = [];
      for (const st of p.op.states.values()) {
        st.evict(p.op.horizon);
        states.push({ state: encodeKeyState(st), emitted: Math.max(0, st.emitPos - st.first) });
      }
      return { t: "closed", rows, states, horizon: p.op.horizon };
    }
  }
}

function transferOf(r: Reply): ArrayBuffer[] {
  const rows = r.t === "rows" ? r : r.t === "closed" ? r.rows : undefined;
  if (rows === undefined || rows.n === 0) return [];
  return [rows.ids.buffer as ArrayBuffer, rows.ts.buffer as ArrayBuffer, ...rows.values.map((v) => v.buffer as ArrayBuffer)];
}

const port = parentPort;
if (port === null) throw new Error("aggregateWorker.ts runs as a worker thread");
port.on("message", (m: Request) => {
  let reply: Reply;
  try {
    reply = handle(m);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    reply = { t: "error", message: err.message, stack: err.stack };
  }
  // values share one buffer per column; transfer each once.
  port.postMessage(reply, [...new Set(transferOf(reply))]);
});
