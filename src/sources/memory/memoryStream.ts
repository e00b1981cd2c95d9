import { SourceError } from "../../errors.js";
import { checkNextArgs, type SourcePosition, type StreamBatch, type StreamSource, type StreamSourceStats } from "../stream/streamSource.js";

/**
 * An in-process, append-only stream: the embedded stand-in for a broker, and
 * the reference implementation of StreamSource. Positions are the number of
 * messages before the next one to read.
 */
export class MemoryStream {
  private readonly log: unknown[] = [];
  /** Readers waiting in `next`; each leaves the set when woken or when its wait times out. */
  private readonly waiters = new Set<() => void>();
  /** Acknowledged position per consumer name. */
  readonly acked = new Map<string, number>();

  /** Appends messages; readers waiting in `next` wake up. */
  append(rows: readonly unknown[]): void {
    for (const r of rows) this.log.push(r);
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const wake of woken) wake();
  }

  get length(): number {
    return this.log.length;
  }

  /** A reader of this stream; `consumer` names it for acknowledgements. */
  source(consumer = "default"): StreamSource {
    return new MemoryStreamSource(this, consumer);
  }

  /** @internal */
  slice(from: number, to: number): unknown[] {
    return this.log.slice(from, to);
  }

  /** @internal Resolves when a message is appended or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        resolve();
      }, ms);
      this.waiters.add(wake);
    });
  }
}

class MemoryStreamSource implements StreamSource {
  readonly kind = "memory";
  readonly text = false;
  readonly description: string;
  private at = -1;
  private read = 0;
  private committed = 0;

  constructor(
    private readonly stream: MemoryStream,
    private readonly consumer: string,
  ) {
    this.description = `in-process stream (consumer ${consumer})`;
  }

  async open(from: SourcePosition | undefined): Promise<void> {
    if (from !== undefined && (typeof from !== "number" || !Number.isSafeInteger(from) || from < 0)) {
      throw new SourceError(`memory stream: position must be a whole number >= 0, got ${JSON.stringify(from)}`);
    }
    this.at = from ?? 0;
  }

  async next(maxRows: number, maxWaitMs: number): Promise<StreamBatch> {
    checkNextArgs(this.kind, maxRows, maxWaitMs);
    if (this.at < 0) throw new SourceError("memory stream: next() before open()");
    if (this.stream.length <= this.at && maxWaitMs > 0) await this.stream.wait(maxWaitMs);
    const rows = this.stream.slice(this.at, this.at + maxRows);
    this.at += rows.length;
    this.read += rows.length;
    return { rows, position: this.at };
  }

  async commit(position: SourcePosition): Promise<void> {
    if (typeof position !== "number") throw new SourceError(`memory stream: cannot commit position ${JSON.stringify(position)}`);
    const before = this.stream.acked.get(this.consumer) ?? 0;
    if (position > before) {
      this.committed += position - before;
      this.stream.acked.set(this.consumer, position);
    }
  }

  async lag(): Promise<number> {
    return Math.max(0, this.stream.length - Math.max(this.at, 0));
  }

  stats(): StreamSourceStats {
    return { read: this.read, committed: this.committed };
  }

  async close(): Promise<void> {
    this.at = -1;
  }
}
