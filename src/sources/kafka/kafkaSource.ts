import { Consumer, ListOffsetTimestamps, MessagesStreamFallbackModes, MessagesStreamModes, type Message, type MessagesStream } from "@platformatic/kafka";
import { SourceError } from "../../errors.js";
import { checkNextArgs, type SourcePosition, type StreamBatch, type StreamSource, type StreamSourceStats } from "../stream/streamSource.js";
import { kafkaErrorMessage } from "./kafkaErrorMessage.js";
import { decodeKafkaJson, kafkaRow, type KafkaDecode } from "./kafkaMessage.js";
import { connectBudgetMs, formatBroker, kafkaSettings, type KafkaSettings, type KafkaSourceOptions } from "./kafkaOptions.js";
import { acknowledgedCount, formatPosition, lagOf, offsetsToCommit, parsePosition, startingOffsets } from "./kafkaPositions.js";

/**
 * A Kafka topic read by a consumer group, as a StreamSource.
 *
 * The checkpoint, not the group, decides where reading starts: `open(from)`
 * seeks every partition of the topic to the offset the position saved (the
 * earliest, or latest, offset when it has none), and offsets are committed to
 * the group only by `commit(position)`, after a checkpoint made them durable.
 * See docs/sources-kafka.md for rebalances.
 *
 * Not run against a broker on this project's machines (none can be installed
 * there); test/kafkaSource.test.ts runs the conformance suite against one
 * given in FRESHET_KAFKA_BROKERS.
 */
export function kafkaSource(options: KafkaSourceOptions): StreamSource {
  return new KafkaSource(options);
}

type Bytes = Message<Buffer, Buffer, Buffer, Buffer>;

class KafkaSource implements StreamSource {
  readonly kind = "kafka";
  readonly text = false;
  readonly description: string;
  private readonly settings: KafkaSettings;
  private readonly decode: KafkaDecode;
  private readonly where: string;
  private consumer: Consumer | undefined;
  private stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  /** Next offset to read per partition: what `next` returns as the position. */
  private positions = new Map<number, bigint>();
  /** Where this session started each partition (for the committed count). */
  private started = new Map<number, bigint>();
  /** Offsets this session committed to the group. */
  private committedOffsets = new Map<number, bigint>();
  /** The error that ended the driver's stream; every later call reports it. */
  private failure: unknown;
  private read = 0;
  private committed = 0;

  constructor(private readonly options: KafkaSourceOptions) {
    this.settings = kafkaSettings(options);
    this.decode = options.decode ?? decodeKafkaJson;
    this.where = `Kafka at ${this.settings.brokers.map(formatBroker).join(",")}`;
    this.description = `Kafka topic "${this.settings.topic}" (group ${this.settings.groupId}) at ${this.settings.brokers.map(formatBroker).join(",")}`;
  }

  async open(from: SourcePosition | undefined): Promise<void> {
    const saved = from === undefined ? new Map<number, bigint>() : parsePosition(from);
    await this.close();
    const s = this.settings;
    const consumer = new Consumer({
      clientId: s.clientId,
      groupId: s.groupId,
      bootstrapBrokers: s.brokers.map((b) => ({ host: b.host, port: b.port })),
      connectTimeout: s.connectTimeoutMs,
      requestTimeout: s.requestTimeoutMs,
      timeout: s.requestTimeoutMs,
      retries: s.retries,
      retryDelay: s.retryDelayMs,
      autocommit: false,
      sessionTimeout: s.sessionTimeoutMs,
      heartbeatInterval: s.heartbeatIntervalMs,
      rebalanceTimeout: s.rebalanceTimeoutMs,
      maxWaitTime: s.fetchMaxWaitMs,
      highWaterMark: s.bufferMessages,
      ...(s.groupInstanceId === undefined ? {} : { groupInstanceId: s.groupInstanceId }),
      ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
      ...(this.options.sasl === undefined ? {} : { sasl: { ...this.options.sasl } }),
    });
    this.consumer = consumer;
    this.failure = undefined;
    try {
      const metadata = await this.step("read the metadata of", bounded(consumer.metadata({ topics: [s.topic] }), connectBudgetMs(s)));
      if (!metadata.topics.has(s.topic)) throw new SourceError(`${this.where}: topic "${s.topic}" does not exist; create it first`);
      const earliest = await this.step("list the earliest offsets of", consumer.listOffsets({ topics: [s.topic], timestamp: ListOffsetTimestamps.EARLIEST }));
      const latest = await this.step("list the latest offsets of", consumer.listOffsets({ topics: [s.topic], timestamp: ListOffsetTimestamps.LATEST }));
      const begin = startingOffsets(saved, earliest.get(s.topic) ?? [], latest.get(s.topic) ?? [], s.start, s.topic);
      const stream = await this.step(
        `join group "${s.groupId}" on`,
        consumer.consume({
          topics: [s.topic],
          // MANUAL: the library starts each partition at the offset given here
          // and keeps its own read offset across rebalances; it never reads
          // the group's committed offsets.
          mode: MessagesStreamModes.MANUAL,
          fallbackMode: s.start === "earliest" ? MessagesStreamFallbackModes.EARLIEST : MessagesStreamFallbackModes.LATEST,
          offsets: [...begin].map(([partition, offset]) => ({ topic: s.topic, partition, offset })),
          autocommit: false,
          maxWaitTime: s.fetchMaxWaitMs,
          highWaterMark: s.bufferMessages,
          sessionTimeout: s.sessionTimeoutMs,
          heartbeatInterval: s.heartbeatIntervalMs,
          rebalanceTimeout: s.rebalanceTimeoutMs,
        }),
      );
      stream.on("error", (e: unknown) => {
        this.failure ??= e;
      });
      // A 'readable' listener puts the stream in paused (pull) mode, where the
      // library still fetches ahead up to `bufferMessages`; without one it
      // would not fetch at all. It stays for the life of the stream.
      stream.on("readable", () => undefined);
      this.stream = stream;
      this.positions = new Map(begin);
      this.started = new Map(begin);
      this.committedOffsets = new Map();
      this.read = 0;
      this.committed = 0;
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  async next(maxRows: number, maxWaitMs: number): Promise<StreamBatch> {
    checkNextArgs(this.kind, maxRows, maxWaitMs);
    const stream = this.live("next()");
    const rows: unknown[] = [];
    const deadline = performance.now() + maxWaitMs;
    while (rows.length < maxRows) {
      this.throwIfFailed();
      const message = stream.read() as Bytes | null;
      if (message === null) {
        const left = deadline - performance.now();
        if (rows.length > 0 || left <= 0 || stream.destroyed || stream.readableEnded) break;
        await readableOrTimeout(stream, left);
        continue;
      }
      if (message.topic !== this.settings.topic) continue;
      rows.push(kafkaRow(message, this.decode));
      this.positions.set(message.partition, message.offset + 1n);
    }
    this.throwIfFailed();
    this.read += rows.length;
    return { rows, position: formatPosition(this.positions) };
  }

  async commit(position: SourcePosition): Promise<void> {
    const target = parsePosition(position);
    const consumer = this.consumer;
    if (consumer === undefined || this.stream === undefined) throw new SourceError(`${this.where}: commit() before open()`);
    const assignment = consumer.assignments?.find((a) => a.topic === this.settings.topic);
    const sent = offsetsToCommit(target, this.committedOffsets, assignment === undefined ? undefined : new Set(assignment.partitions));
    if (sent.length === 0) return;
    await this.step(
      `commit offsets of group "${this.settings.groupId}" for`,
      consumer.commit({ offsets: sent.map(({ partition, offset }) => ({ topic: this.settings.topic, partition, offset, leaderEpoch: -1 })) }),
    );
    this.committed += acknowledgedCount(sent, this.committedOffsets, this.started);
    for (const { partition, offset } of sent) this.committedOffsets.set(partition, offset);
  }

  async lag(): Promise<number | undefined> {
    const consumer = this.consumer;
    if (consumer === undefined || this.stream === undefined) return undefined;
    const latest = await this.step("list the latest offsets of", consumer.listOffsets({ topics: [this.settings.topic], timestamp: ListOffsetTimestamps.LATEST }));
    const assignment = consumer.assignments?.find((a) => a.topic === this.settings.topic);
    return lagOf(latest.get(this.settings.topic) ?? [], this.positions, assignment?.partitions ?? this.positions.keys());
  }

  stats(): StreamSourceStats {
    return { read: this.read, committed: this.committed };
  }

  /**
   * Stops fetching and leaves the group. Failures while leaving (a broker
   * gone already) are not reported: nothing is lost by them, since offsets
   * are only committed by `commit`, and the group expires a silent member
   * after its session timeout.
   */
  async close(): Promise<void> {
    const { stream, consumer } = this;
    this.stream = undefined;
    this.consumer = undefined;
    const budget = this.settings.requestTimeoutMs + this.settings.fetchMaxWaitMs;
    if (stream !== undefined) await bounded(stream.close(), budget).catch(() => undefined);
    if (consumer !== undefined) {
      // force: also ends any stream still open, without waiting for in-flight fetches.
      const closing = new Promise<void>((resolve, reject) => consumer.close(true, (e) => (e ? reject(e) : resolve())));
      await bounded(closing, budget).catch(() => undefined);
    }
  }

  private live(call: string): MessagesStream<Buffer, Buffer, Buffer, Buffer> {
    if (this.stream === undefined) throw new SourceError(`${this.where}: ${call} before open()`);
    return this.stream;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) {
      throw new SourceError(`${this.where}: reading topic "${this.settings.topic}" failed: ${kafkaErrorMessage(this.failure)}`, {}, { cause: this.failure });
    }
  }

  /** Awaits a driver call, turning its failure into a SourceError that says what was being done and where. */
  private async step<T>(doing: string, call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (e) {
      if (e instanceof SourceError) throw e;
      throw new SourceError(`${this.where}: could not ${doing} topic "${this.settings.topic}": ${kafkaErrorMessage(e)}`, {}, { cause: e });
    }
  }
}

/** Rejects when `promise` has not settled after `ms` (the driver's own timeouts should come first). */
function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves when the stream has data, ends or fails, or after `ms`. */
function readableOrTimeout(stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      stream.off("readable", done);
      stream.off("error", done);
      stream.off("close", done);
      stream.off("end", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stream.on("readable", done);
    stream.on("error", done);
    stream.on("close", done);
    stream.on("end", done);
  });
}
