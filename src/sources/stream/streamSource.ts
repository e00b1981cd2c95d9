import { DefinitionError } from "../../errors.js";

/**
 * A position in a stream, saved in checkpoints: plain JSON (a sequence number,
 * a stream id, a map of partition → offset, a (timestamp, id) pair...).
 * Reading "after" a position yields exactly the messages that followed it.
 */
export type SourcePosition = null | boolean | number | string | readonly SourcePosition[] | { readonly [k: string]: SourcePosition };

/** One read from a stream source. */
export interface StreamBatch {
  /** Decoded messages (usually objects), in the source's order; a RowParser types them against the dataset. */
  readonly rows: readonly unknown[];
  /**
   * The position after the last row of this batch: opening the source again
   * `from` it yields the message that follows. Unchanged when `rows` is empty.
   */
  readonly position: SourcePosition;
}

/** Counters every stream source keeps for metrics. */
export interface StreamSourceStats {
  /** Messages handed out by `next` since `open`. */
  readonly read: number;
  /** Messages acknowledged (or offsets committed) through `commit`. */
  readonly committed: number;
}

/**
 * A live input: a NATS JetStream consumer, a Kafka consumer group, a Redis
 * Stream consumer group, or a database table polled for new rows.
 *
 * The job that runs it owns the order of calls: `open(from)` once, then
 * `next()` repeatedly; after a checkpoint that holds every row up to a
 * position is durable, `commit(position)` acknowledges them to the system.
 * After a crash the job opens the source again from the position its newest
 * valid checkpoint saved, so a row is counted once whatever was acknowledged.
 */
export interface StreamSource {
  /** "nats", "kafka", "redis-streams", "postgres", "mysql", "postgres-replication", "mysql-binlog", "memory". */
  readonly kind: string;
  /** Where it reads, for messages and metrics (no passwords). */
  readonly description: string;
  /** True when values arrive as text (numbers and booleans are parsed from strings). */
  readonly text: boolean;
  /**
   * Connects and positions the reader just after `from`, or at the source's
   * configured start (the beginning, unless told otherwise) when `from` is undefined.
   * Fails with a SourceError naming the system when it cannot connect.
   */
  open(from: SourcePosition | undefined): Promise<void>;
  /**
   * Up to `maxRows` rows that follow the previous batch. Waits at most
   * `maxWaitMs` when nothing is there yet, then returns an empty batch.
   * A message that cannot be decoded is returned as a `StreamDecodeFailure`
   * row, so the job can fail or dead-letter it with its position.
   */
  next(maxRows: number, maxWaitMs: number): Promise<StreamBatch>;
  /** Acknowledges every row up to `position` (a position `next` returned). Idempotent. */
  commit(position: SourcePosition): Promise<void>;
  /** Messages in the system not yet handed out, when the system can tell (for the lag metric). */
  lag(): Promise<number | undefined>;
  /**
   * For log-based sources (change data capture): bytes of the server's change
   * log (WAL, binlog) written after the last change this source handed out,
   * or after where it starts reading before it has handed out any. It counts
   * every table's writes and the log's own records, so a source that has read
   * everything shows the log written since its last change, not always 0.
   * Undefined when the server cannot tell. Absent for sources without such a log.
   */
  lagBytes?(): Promise<number | undefined>;
  stats(): StreamSourceStats;
  /** Disconnects. Safe to call twice, and after a failed open. */
  close(): Promise<void>;
}

/**
 * Set on every StreamDecodeFailure: the row parser's hot loop tells one apart
 * by this property (a cached missing-property load on a plain row) instead of
 * `instanceof` (a prototype walk per row, about 2.5 times slower over 3M rows).
 */
export const DECODE_FAILURE: unique symbol = Symbol("freshet.streamDecodeFailure");

/** A message the source could not decode (not JSON, say): the job fails or dead-letters it. */
export class StreamDecodeFailure {
  readonly [DECODE_FAILURE] = true;
  /** The raw payload, as text, truncated to 1,000 characters. */
  readonly raw: string;

  constructor(
    /** Why, e.g. "payload is not JSON: Unexpected token". */
    readonly reason: string,
    raw: string,
    /** Where the message sits in the source (a sequence number, an offset, an id). */
    readonly at: string,
  ) {
    this.raw = raw.slice(0, 1_000);
  }
}

/** True for values that look like a StreamSource (for inputs that accept several kinds). */
export function isStreamSource(value: unknown): value is StreamSource {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { next?: unknown }).next === "function" &&
    typeof (value as { commit?: unknown }).commit === "function" &&
    typeof (value as { open?: unknown }).open === "function" &&
    typeof (value as { kind?: unknown }).kind === "string"
  );
}

/** Decodes a payload as JSON text, or explains why not. */
export function decodeJson(payload: Uint8Array | string, at: string): unknown {
  const text = payloadText(payload);
  try {
    return JSON.parse(text);
  } catch (err) {
    return new StreamDecodeFailure(`payload is not JSON: ${(err as Error).message}`, text, at);
  }
}

/** The row that stands for a message a user's `decode` threw on, `reason` being the error's message. */
export function decoderThrew(reason: string, payload: Uint8Array | string, at: string): StreamDecodeFailure {
  return new StreamDecodeFailure(`decode failed: ${reason}`, payloadText(payload), at);
}

/** A payload as UTF-8 text, without copying its bytes. */
function payloadText(payload: Uint8Array | string): string {
  return typeof payload === "string" ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8");
}

/**
 * A reader's pause in `next` until data arrives: `wait(ms)` resolves when
 * `wake()` is called (by whatever receives data) or after `ms`.
 */
export class Wakeup {
  private resolveWait: (() => void) | undefined;

  /** True while a `wait` is pending. */
  get waiting(): boolean {
    return this.resolveWait !== undefined;
  }

  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.resolveWait = undefined;
        resolve();
      }
      this.resolveWait = done;
    });
  }

  /** Ends the pending wait, if any. */
  wake(): void {
    this.resolveWait?.();
  }
}

/** Checks the `next` arguments every adapter takes. */
export function checkNextArgs(kind: string, maxRows: number, maxWaitMs: number): void {
  if (!Number.isSafeInteger(maxRows) || maxRows < 1) throw new DefinitionError(`${kind} source: maxRows must be a positive integer, got ${maxRows}`);
  if (!Number.isFinite(maxWaitMs) || maxWaitMs < 0) throw new DefinitionError(`${kind} source: maxWaitMs must be >= 0, got ${maxWaitMs}`);
}
