import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type Consumer, type ConsumerInfo, type ConsumerMessages, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { messageOf } from "../../core/errorMessage.js";
import { FreshetError, SourceError } from "../../errors.js";
export type { NatsSourceOptions } from "./natsOptions.js";
import { checkNatsOptions, type CheckedNatsOptions, type NatsSourceOptions } from "./natsOptions.js";
import { checkNextArgs, decodeJson, decoderThrew, Wakeup, type SourcePosition, type StreamBatch, type StreamSource, type StreamSourceStats } from "../stream/streamSource.js";

/** A pull request stays open at most this long; `next` never waits on it longer than its own maxWaitMs. */
const FETCH_EXPIRES_MS = 5_000;

/**
 * A NATS JetStream stream read through a durable pull consumer.
 *
 * Positions are stream sequence numbers: the sequence of the last message
 * handed out (0 before the first). `open(from)` makes the consumer deliver
 * from sequence `from + 1`: JetStream cannot move a consumer's start, so the
 * durable is deleted and created again (deliver policy by start sequence)
 * unless it already sits exactly there with nothing outstanding. Recreating
 * drops the consumer's interest for a moment, so use limits or work-queue
 * retention, not interest retention.
 *
 * Acknowledgements happen only in `commit`. The consumer uses AckPolicy.All:
 * acking the message at sequence P acknowledges every message the consumer
 * delivered up to P. That is exactly "everything up to the committed
 * position" for one in-order reader, and costs one confirmed ack per commit
 * instead of one per message (AckExplicit would need every message's ack).
 * max_ack_pending is unlimited, since a job reads many batches between two
 * checkpoints. Messages the server redelivers (ack wait elapsed before a
 * commit) carry sequences already handed out; they are skipped, so within
 * one open every sequence reaches `next` at most once and in order.
 */
export function natsSource(options: NatsSourceOptions): StreamSource {
  return new NatsStreamSource(checkNatsOptions(options));
}

/** The last message of a batch handed out: acking it (AckPolicy.All) acknowledges the batch and all before it. */
interface HandedOut {
  readonly seq: number;
  /** Undefined once the consumer was recreated past it: its ack floor already covers it. */
  readonly msg: JsMsg | undefined;
  readonly count: number;
}

class NatsStreamSource implements StreamSource {
  readonly kind = "nats";
  readonly text = false;
  readonly description: string;
  private nc: NatsConnection | undefined;
  private jsm: JetStreamManager | undefined;
  private consumer: Consumer | undefined;
  /** Stream sequence of the last message handed out; -1 while not open. */
  private position = -1;
  /** Fetched, not yet handed out, in delivery order. */
  private buffer: JsMsg[] = [];
  private fetch: ConsumerMessages | undefined;
  private fetching: Promise<void> | undefined;
  private fetchError: unknown;
  private readonly wakeup = new Wakeup();
  /** Consumer sequence of the last delivery taken from the buffer: deliveries are numbered 1, 2, 3... per consumer. */
  private lastDelivery = 0;
  /** A delivery never arrived (lost with a connection): the consumer must be placed again after `position`. */
  private reseek = false;
  /** Batches handed out and not yet committed, oldest first. */
  private uncommitted: HandedOut[] = [];
  private read = 0;
  private committed = 0;

  constructor(private readonly o: CheckedNatsOptions) {
    this.description = `NATS JetStream ${o.address} stream ${o.stream}${o.subject === undefined ? "" : ` subject ${o.subject}`} (durable ${o.durable})`;
  }

  async open(from: SourcePosition | undefined): Promise<void> {
    if (from !== undefined && (typeof from !== "number" || !Number.isSafeInteger(from) || from < 0)) {
      throw new SourceError(`NATS source: position must be a stream sequence (a whole number >= 0), got ${JSON.stringify(from)}`);
    }
    await this.close();
    try {
      this.nc = await connect({ servers: this.o.servers, timeout: this.o.connectTimeoutMs, reconnect: true, maxReconnectAttempts: 10 });
    } catch (cause) {
      throw new SourceError(`Cannot connect to NATS at ${this.o.address}: ${messageOf(cause)}. Check that nats-server runs (with -js) and the address is right.`, {}, { cause });
    }
    try {
      this.jsm = await jetstreamManager(this.nc);
      const last = await this.streamLastSeq(from);
      const after = from ?? (this.o.start === "new" ? last : 0);
      this.lastDelivery = await this.placeConsumer(after);
      this.consumer = await jetstream(this.nc).consumers.get(this.o.stream, this.o.durable);
      this.position = after;
      this.reseek = false;
      this.read = 0;
      this.committed = 0;
    } catch (cause) {
      await this.close();
      if (cause instanceof FreshetError) throw cause;
      throw this.failure(`cannot open consumer ${this.o.durable} on stream ${this.o.stream}`, cause);
    }
  }

  /** The stream's last sequence, after checking that nothing after `from` was removed. */
  private async streamLastSeq(from: number | undefined): Promise<number> {
    const jsm = this.jsm as JetStreamManager;
    let state;
    try {
      state = (await jsm.streams.info(this.o.stream)).state;
    } catch (cause) {
      if (/stream not found/i.test(messageOf(cause))) {
        throw new SourceError(`NATS JetStream at ${this.o.address} has no stream "${this.o.stream}": create it (nats stream add) or fix the stream name.`, {}, { cause });
      }
      throw cause;
    }
    // Messages after `from` that limits (max age, max messages) removed would be lost silently.
    // With a subject filter the removed ones may belong to other subjects, so the check needs the whole stream.
    if (from !== undefined && this.o.subject === undefined && state.first_seq > from + 1) {
      throw new SourceError(
        `NATS JetStream stream "${this.o.stream}" at ${this.o.address} no longer holds the messages after position ${from}: its first sequence is ${state.first_seq} (removed by its limits). The job cannot resume there without losing them: raise the stream's limits, or start the job afresh.`,
      );
    }
    return state.last_seq;
  }

  /**
   * Makes the durable deliver from sequence `after + 1`, reusing it only when
   * it is exactly there with nothing outstanding. Returns the consumer
   * sequence of its last delivery (0 when created).
   */
  private async placeConsumer(after: number): Promise<number> {
    const jsm = this.jsm as JetStreamManager;
    let info: ConsumerInfo | undefined;
    try {
      info = await jsm.consumers.info(this.o.stream, this.o.durable);
    } catch (cause) {
      if (!/consumer not found/i.test(messageOf(cause))) throw cause;
    }
    if (info !== undefined && this.reusable(info, after)) return info.delivered.consumer_seq;
    if (info !== undefined) await jsm.consumers.delete(this.o.stream, this.o.durable);
    const created = await jsm.consumers.add(this.o.stream, {
      durable_name: this.o.durable,
      ack_policy: AckPolicy.All,
      ack_wait: nanos(this.o.ackWaitMs),
      max_ack_pending: -1,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: after + 1,
      ...(this.o.subject === undefined ? {} : { filter_subject: this.o.subject }),
    });
    return created.delivered.consumer_seq;
  }

  /**
   * After a lost delivery: stops the pull request, drops what was fetched,
   * and recreates the durable just after the last message handed out.
   */
  private async placeAgain(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined; // the pump drains and ends
    void this.fetch?.close();
    await this.fetching;
    this.buffer = [];
    this.fetchError = undefined;
    try {
      this.lastDelivery = await this.placeConsumer(this.position);
      this.consumer = await jetstream(this.nc as NatsConnection).consumers.get(this.o.stream, this.o.durable);
    } catch (cause) {
      this.consumer = consumer;
      throw this.failure(`cannot recreate consumer ${this.o.durable} after a lost delivery`, cause);
    }
    // The new consumer starts with its ack floor at `position`: nothing handed out before needs an ack any more.
    this.uncommitted = this.uncommitted.map((h) => ({ ...h, msg: undefined }));
    this.reseek = false;
  }

  private reusable(info: ConsumerInfo, after: number): boolean {
    const c = info.config;
    return (
      c.ack_policy === AckPolicy.All &&
      c.max_ack_pending === -1 &&
      c.ack_wait === nanos(this.o.ackWaitMs) &&
      (c.filter_subject ?? undefined) === this.o.subject &&
      info.num_ack_pending === 0 &&
      info.num_waiting === 0 &&
      info.num_redelivered === 0 &&
      info.delivered.stream_seq === after &&
      info.ack_floor.stream_seq === after
    );
  }

  async next(maxRows: number, maxWaitMs: number): Promise<StreamBatch> {
    checkNextArgs(this.kind, maxRows, maxWaitMs);
    if (this.consumer === undefined) throw new SourceError("NATS source: next() before open()");
    if (this.reseek) await this.placeAgain();
    if (this.buffer.length === 0) {
      this.throwFetchError();
      this.startFetch();
      await this.waitForMessages(maxWaitMs);
      this.throwFetchError();
    }
    const rows: unknown[] = [];
    let taken = 0;
    let last: JsMsg | undefined;
    while (taken < this.buffer.length && rows.length < maxRows) {
      const msg = this.buffer[taken] as JsMsg;
      // Deliveries are numbered without gaps: a gap is a delivery that never reached this client
      // (sent into a connection that dropped). Handing out what follows would lose it.
      if (msg.info.deliverySequence !== this.lastDelivery + 1) {
        this.reseek = true;
        break;
      }
      taken++;
      this.lastDelivery = msg.info.deliverySequence;
      // A redelivery (ack wait elapsed before a commit) of a sequence already handed out.
      if (msg.seq <= this.position) continue;
      this.position = msg.seq;
      last = msg;
      rows.push(this.decode(msg));
    }
    this.buffer.splice(0, taken);
    // A gap before anything was handed out: place the consumer again and read in this same call.
    if (rows.length === 0 && this.reseek) return this.next(maxRows, maxWaitMs);
    if (last !== undefined) this.uncommitted.push({ seq: last.seq, msg: last, count: rows.length });
    this.read += rows.length;
    // Prefetch: the next pull request goes out while the job works on this batch.
    if (this.buffer.length < this.o.batch && !this.reseek) this.startFetch();
    return { rows, position: this.position };
  }

  private decode(msg: JsMsg): unknown {
    const at = String(msg.seq);
    if (this.o.decode === undefined) return decodeJson(msg.data, at);
    try {
      return this.o.decode(msg.data);
    } catch (err) {
      return decoderThrew(messageOf(err), msg.data, at);
    }
  }

  /**
   * One pull request at a time, so messages reach the buffer in delivery
   * order. It runs on after `next` returns; what it brings waits in the buffer.
   */
  private startFetch(): void {
    const consumer = this.consumer;
    if (this.fetching !== undefined || consumer === undefined) return;
    const pull = async (): Promise<void> => {
      const messages = await consumer.fetch({ max_messages: this.o.batch, expires: FETCH_EXPIRES_MS });
      this.fetch = messages;
      // Closed while the request was being made: stop it rather than wait for it to expire.
      if (this.consumer !== consumer) void messages.close();
      for await (const msg of messages) {
        // After close the iterator is only drained (its close resolves once drained).
        if (this.consumer !== consumer) continue;
        this.buffer.push(msg);
        this.wakeup.wake();
      }
    };
    this.fetching = pull()
      .catch((err: unknown) => {
        if (this.consumer === consumer) this.fetchError = err;
      })
      .finally(() => {
        this.fetch = undefined;
        this.fetching = undefined;
        this.wakeup.wake();
      });
  }

  /** Resolves when the buffer holds messages, the pull request ended with nothing, or after `ms`. */
  private async waitForMessages(ms: number): Promise<void> {
    const deadline = performance.now() + ms;
    while (this.buffer.length === 0 && this.fetchError === undefined) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      if (this.fetching === undefined) this.startFetch();
      await this.wakeup.wait(left);
    }
    // Let the messages already read from the socket join the first one.
    if (this.buffer.length > 0) await new Promise((resolve) => setImmediate(resolve));
  }

  private throwFetchError(): void {
    const err = this.fetchError;
    if (err === undefined) return;
    this.fetchError = undefined;
    throw this.failure(`reading stream ${this.o.stream} (durable ${this.o.durable}) failed`, err);
  }

  async commit(position: SourcePosition): Promise<void> {
    if (typeof position !== "number" || !Number.isSafeInteger(position) || position < 0) {
      throw new SourceError(`NATS source: cannot commit position ${JSON.stringify(position)}; positions are stream sequences`);
    }
    let upTo = -1;
    for (let i = 0; i < this.uncommitted.length && (this.uncommitted[i] as HandedOut).seq <= position; i++) upTo = i;
    const last = this.uncommitted[upTo];
    if (last === undefined) return;
    if (last.msg !== undefined) await this.ackUpTo(last.seq, last.msg);
    for (const h of this.uncommitted.splice(0, upTo + 1)) this.committed += h.count;
  }

  /** AckPolicy.All: acking the message at `seq` acknowledges every delivery up to it; waits for the server's confirmation. */
  private async ackUpTo(seq: number, msg: JsMsg): Promise<void> {
    let confirmed: boolean;
    try {
      confirmed = await msg.ackAck();
    } catch (cause) {
      throw this.failure(`acknowledging up to sequence ${seq} on stream ${this.o.stream} failed`, cause);
    }
    if (!confirmed) throw new SourceError(`NATS JetStream at ${this.o.address} did not confirm the acknowledgement up to sequence ${seq} on stream ${this.o.stream}; commit again.`);
  }

  async lag(): Promise<number | undefined> {
    if (this.jsm === undefined) return undefined;
    try {
      const info = await this.jsm.consumers.info(this.o.stream, this.o.durable);
      const buffered = this.buffer.reduce((n, m) => (m.seq > this.position ? n + 1 : n), 0);
      return info.num_pending + buffered;
    } catch (cause) {
      throw this.failure(`consumer info for ${this.o.durable} failed`, cause);
    }
  }

  stats(): StreamSourceStats {
    return { read: this.read, committed: this.committed };
  }

  /** A driver error as a SourceError naming JetStream, the address and what failed. */
  private failure(what: string, cause: unknown): SourceError {
    return new SourceError(`NATS JetStream at ${this.o.address}: ${what}: ${messageOf(cause)}`, {}, { cause });
  }

  async close(): Promise<void> {
    const nc = this.nc;
    this.consumer = undefined;
    this.jsm = undefined;
    this.nc = undefined;
    this.position = -1;
    this.buffer = [];
    this.uncommitted = [];
    this.fetchError = undefined;
    // Stops the pull request; the pump drains what is queued and ends.
    void this.fetch?.close();
    await this.fetching;
    if (nc === undefined || nc.isClosed()) return;
    // The pull request ended with an UNSUB of its inbox; a round trip makes sure the server has
    // dropped it before close returns. Otherwise messages published just after could still be
    // delivered into the dead inbox, and the next open would find the durable past its commit.
    await nc.flush().catch(() => undefined);
    await nc.close();
  }
}
