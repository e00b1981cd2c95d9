/** What a policy knows about one key of its table; every scheduler and predicate reads it. */
export interface KeyStatus {
  readonly id: string;
  /** The key's place in first-seen order (round-robin goes around it). */
  readonly index: number;
  /** Event time of the key's first input. */
  readonly firstT: number;
  /** Event time of the newest input offered (kept or shed). */
  newestT: number;
  /** Event time of the input behind the key's current output; -Infinity before the first. */
  servedT: number;
  /** Sequence number of that input; -1 before the first. Pending inputs older than it are superseded. */
  servedSeq: number;
  /** Store-clock time of the key's last computed update; -Infinity before the first. */
  computedAt: number;
  /** Inputs offered in all (kept or shed), and how many of them the current output reflects. */
  offered: number;
  servedOrdinal: number;
  /** Reads since the last computed update, and in all. */
  readsSince: number;
  reads: number;
  /** Sum of error(current, input) over the inputs queued since the last computed update. */
  error: number;
  /** The value (shed "moved") of the last kept input. */
  lastValue: number | undefined;
  /** Updates of the key in the queue. */
  pending: number;
  /** Sequence numbers of the newest and oldest pending update (meaningful while pending > 0). */
  newestSeq: number;
  oldestSeq: number;
}

export function newKeyStatus(id: string, index: number, t: number): KeyStatus {
  return {
    id,
    index,
    firstT: t,
    newestT: t,
    servedT: Number.NEGATIVE_INFINITY,
    servedSeq: -1,
    computedAt: Number.NEGATIVE_INFINITY,
    offered: 0,
    servedOrdinal: 0,
    readsSince: 0,
    reads: 0,
    error: 0,
    lastValue: undefined,
    pending: 0,
    newestSeq: -1,
    oldestSeq: -1,
  };
}

/** Event-time milliseconds of data the key's output does not reflect yet (0: up to date). */
export function stalenessOf(k: KeyStatus): number {
  const since = Number.isFinite(k.servedT) ? k.servedT : k.firstT;
  return behindOf(k) === 0 ? 0 : Math.max(0, k.newestT - since);
}

/** Inputs that arrived since the one behind the key's current output. */
export function behindOf(k: KeyStatus): number {
  return k.offered - k.servedOrdinal;
}
