import type { Row } from "../core/schema.js";
import { toEpochMs } from "../core/time.js";
import { DefinitionError, TimestampError } from "../errors.js";
import type { HistoryBatch } from "../stores/offline/historyStore.js";

/** One batch of a replay: rows of one dataset, in event-time order. */
export interface ReplayBatch {
  readonly dataset: string;
  readonly rows: readonly Row[];
  /** Event times of the rows (ms). */
  readonly ts: Float64Array;
}

/** Where replayed events go: a store with the same datasets (its `push`), or a callback. */
export type ReplayTarget = { push(dataset: string, rows: readonly Row[]): Promise<unknown> } | ((batch: ReplayBatch) => void | Promise<void>);

export interface ReplayOptions {
  /** Recorded source datasets to replay, merged in event-time order (ties: the order the store processed them where recorded, else the order given; then arrival order). */
  readonly sources: readonly string[];
  /** Only events at or after this time. */
  readonly start?: Date | number | string;
  /** Only events before this time. */
  readonly end?: Date | number | string;
  /**
   * "max" (default): as fast as possible. A number k: event-time gaps are
   * replayed in gap / k of wall time (1 = real time, 60 = a minute per second).
   */
  readonly speed?: number | "max";
  readonly into: ReplayTarget;
  /** Most rows per emitted batch (default 10,000); a batch never spans a pause. */
  readonly batchSize?: number;
  /** Waits this many ms (default: a timer); tests inject their own. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface ReplayReport {
  readonly events: number;
  readonly batches: number;
  /** Event time of the first and last replayed event (null when none). */
  readonly first: Date | null;
  readonly last: Date | null;
}

function bound(v: Date | number | string | undefined, field: string): number | undefined {
  if (v === undefined) return undefined;
  const ms = toEpochMs(v);
  if (ms === undefined) throw new TimestampError(`replay: "${field}" is not a readable timestamp: ${String(v)}`, { field });
  return ms;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Replays recorded source events (Featurizer's OfflineFeatureStreamGenerator):
 * what the store recorded as it ran, in event-time order, into another store
 * or a callback, at full speed or paced to a multiple of real time, so a
 * model can be backtested on exactly what it would have seen.
 */
export async function replayRecorded(scan: (dataset: string) => Promise<HistoryBatch>, o: ReplayOptions): Promise<ReplayReport> {
  if (o.sources.length === 0) throw new DefinitionError("replay: name at least one source dataset", { field: "sources" });
  const speed = o.speed ?? "max";
  if (speed !== "max" && !(typeof speed === "number" && speed > 0 && Number.isFinite(speed))) {
    throw new DefinitionError(`replay: speed must be "max" or a positive number, got ${String(speed)}`, { field: "speed" });
  }
  const batchSize = o.batchSize ?? 10_000;
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new DefinitionError(`replay: batchSize must be a positive whole number, got ${String(batchSize)}`, { field: "batchSize" });
  const start = bound(o.start, "start") ?? Number.NEGATIVE_INFINITY;
  const end = bound(o.end, "end") ?? Number.POSITIVE_INFINITY;
  const sleep = o.sleep ?? defaultSleep;
  const emit = typeof o.into === "function" ? o.into : (b: ReplayBatch) => (o.into as { push(d: string, r: readonly Row[]): Promise<unknown> }).push(b.dataset, b.rows);

  // Each source's events in event-time order (a stable sort keeps arrival order among ties).
  const streams = await Promise.all(
    o.sources.map(async (name, s) => {
      const h = await scan(name);
      const idx: number[] = [];
      for (let i = 0; i < h.ts.length; i++) {
        const t = h.ts[i] as number;
        if (t >= start && t < end) idx.push(i);
      }
      idx.sort((a, b) => (h.ts[a] as number) - (h.ts[b] as number) || a - b);
      return { name, s, h, idx, pos: 0 };
    }),
  );

  let events = 0;
  let batches = 0;
  let first: number | null = null;
  let last: number | null = null;
  let paceFrom: number | null = null;
  let rows: Row[] = [];
  let ts: number[] = [];
  let current: string | undefined;
  const flush = async (): Promise<void> => {
    if (current === undefined || rows.length === 0) return;
    await emit({ dataset: current, rows, ts: Float64Array.from(ts) });
    batches++;
    rows = [];
    ts = [];
  };
  for (;;) {
    // The next event: the smallest time over the sources; ties in the order the store processed
    // them (arrival numbers, recorded for sources feeding a union or an interval join), then the earlier source.
    let next: (typeof streams)[number] | undefined;
    let nextTs = 0;
    let nextArrival = 0;
    for (const st of streams) {
      if (st.pos >= st.idx.length) continue;
      const j = st.idx[st.pos] as number;
      const t = st.h.ts[j] as number;
      const arrival = st.h.arrivals?.[j] ?? 0;
      if (next === undefined || t < nextTs || (t === nextTs && arrival < nextArrival)) {
        next = st;
        nextTs = t;
        nextArrival = arrival;
      }
    }
    if (next === undefined) break;
    const i = next.idx[next.pos++] as number;
    const t = next.h.ts[i] as number;
    if (speed !== "max") {
      paceFrom ??= t;
      // Wait until this event's place in the paced timeline: what is buffered goes out first.
      const due = (t - paceFrom) / speed;
      if (due > 0) {
        await flush();
        await sleep(due);
        paceFrom = t;
      }
    }
    if (next.name !== current || rows.length >= batchSize) {
      await flush();
      current = next.name;
    }
    rows.push(next.h.rows[i] as Row);
    ts.push(t);
    events++;
    first ??= t;
    last = t;
  }
  await flush();
  return { events, batches, first: first === null ? null : new Date(first), last: last === null ? null : new Date(last) };
}
