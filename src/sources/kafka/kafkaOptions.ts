import type { ConnectionOptions as TlsOptions } from "node:tls";
import { DefinitionError } from "../../errors.js";

/** Where a message sits, handed to a custom `decode` with its payload. */
export interface KafkaMessageMeta {
  readonly topic: string;
  readonly partition: number;
  /** The message's offset, as decimal text (offsets are 64-bit). */
  readonly offset: string;
  /** The message key, when it has one. */
  readonly key: Buffer | undefined;
  /** The producer's (or broker's) timestamp, in ms since the epoch. */
  readonly timestamp: number;
  readonly headers: ReadonlyMap<string, string>;
}

/** SASL credentials; the password never appears in messages or descriptions. */
export interface KafkaSasl {
  readonly mechanism: "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512";
  readonly username: string;
  readonly password: string;
}

export interface KafkaSourceOptions {
  /** Bootstrap brokers, "host:port" each ("[::1]:9092" for IPv6), or one comma-separated string. */
  readonly brokers: readonly string[] | string;
  readonly topic: string;
  /** The consumer group: partitions are shared among its members, and offsets are committed for it. */
  readonly groupId: string;
  /** Default "freshet". */
  readonly clientId?: string;
  /**
   * Turns a message value into a row. Default: the value is JSON text. A
   * value it cannot decode (it throws) becomes a StreamDecodeFailure.
   */
  readonly decode?: (value: Buffer, meta: KafkaMessageMeta) => unknown;
  /** Where partitions missing from the saved position start: "earliest" (default) or "latest". */
  readonly start?: "earliest" | "latest";
  /** Per connection attempt. Default 5,000 ms. */
  readonly connectTimeoutMs?: number;
  /** Per request. Default 10,000 ms. */
  readonly requestTimeoutMs?: number;
  /** Retries of a failed request (connects included). Default 2. */
  readonly retries?: number;
  /** Pause between retries. Default 500 ms. */
  readonly retryDelayMs?: number;
  /** Longest a fetch waits on the broker for new messages. Default 500 ms (it bounds how long `close` waits too). */
  readonly fetchMaxWaitMs?: number;
  /** Group session timeout. Default 30,000 ms. */
  readonly sessionTimeoutMs?: number;
  /** Group heartbeat interval. Default 3,000 ms. */
  readonly heartbeatIntervalMs?: number;
  /** Longest a rebalance may take. Default 60,000 ms. */
  readonly rebalanceTimeoutMs?: number;
  /** Static membership: a restart within the session timeout keeps this member's partitions (no rebalance). */
  readonly groupInstanceId?: string;
  /** Messages buffered ahead of `next`. Default 1,024. */
  readonly bufferMessages?: number;
  readonly tls?: TlsOptions;
  readonly sasl?: KafkaSasl;
}

export interface KafkaBroker {
  readonly host: string;
  readonly port: number;
}

/** Validated options with every default filled in. */
export interface KafkaSettings {
  readonly brokers: readonly KafkaBroker[];
  readonly topic: string;
  readonly groupId: string;
  readonly clientId: string;
  readonly start: "earliest" | "latest";
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly fetchMaxWaitMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly groupInstanceId: string | undefined;
  readonly bufferMessages: number;
}

/** Kafka's legal topic names (and, by the same rule, client and instance ids we accept). */
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const HOST = /^[A-Za-z0-9._-]+$/;

function fail(field: string, message: string): never {
  throw new DefinitionError(`kafka source: ${message}`, { field });
}

/** Parses "host:port" or "[v6]:port". */
export function parseBroker(text: string, field = "brokers"): KafkaBroker {
  const s = text.trim();
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(s) ?? /^([^:\s]+):(\d+)$/.exec(s);
  const host = m?.[1];
  const portText = m?.[2];
  if (host === undefined || portText === undefined || (!s.startsWith("[") && !HOST.test(host))) {
    fail(field, `${field}: ${JSON.stringify(text)} is not "host:port" (e.g. "127.0.0.1:9092" or "[::1]:9092")`);
  }
  const port = Number(portText);
  if (!Number.isSafeInteger(port) || port < 1 || port > 65_535) fail(field, `${field}: ${JSON.stringify(text)} has port ${portText}, outside 1..65535`);
  return { host, port };
}

/** "host:port" again, bracketing IPv6 hosts. */
export function formatBroker(b: KafkaBroker): string {
  return b.host.includes(":") ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

function whole(options: KafkaSourceOptions, field: keyof KafkaSourceOptions & string, fallback: number, min: number): number {
  const v: unknown = options[field];
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) fail(field, `${field} must be a whole number >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function name(v: unknown, field: string, what: string): string {
  if (typeof v !== "string" || !TOPIC.test(v)) {
    fail(field, `${field} must be ${what} of 1 to 249 letters, digits, ".", "_" or "-", got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Checks every option (the first problem is thrown, naming its field) and fills in defaults. */
export function kafkaSettings(options: KafkaSourceOptions): KafkaSettings {
  if (typeof options !== "object" || options === null) throw new DefinitionError("kafka source: options must be an object with brokers, topic and groupId");
  const rawBrokers: unknown = options.brokers;
  const list = typeof rawBrokers === "string" ? rawBrokers.split(",") : rawBrokers;
  if (!Array.isArray(list) || list.length === 0) fail("brokers", `brokers must be a non-empty list of "host:port", got ${JSON.stringify(rawBrokers)}`);
  const brokers = list.map((b: unknown) => {
    if (typeof b !== "string") fail("brokers", `brokers: each must be a "host:port" string, got ${JSON.stringify(b)}`);
    return parseBroker(b);
  });
  const topic = name(options.topic, "topic", "a Kafka topic name");
  const groupId: unknown = options.groupId;
  if (typeof groupId !== "string" || groupId.trim() === "") fail("groupId", `groupId must be a non-empty string, got ${JSON.stringify(groupId)}`);
  const clientId = options.clientId === undefined ? "freshet" : name(options.clientId, "clientId", "a client id");
  const groupInstanceId = options.groupInstanceId === undefined ? undefined : name(options.groupInstanceId, "groupInstanceId", "an instance id");
  const start: unknown = options.start ?? "earliest";
  if (start !== "earliest" && start !== "latest") fail("start", `start must be "earliest" or "latest", got ${JSON.stringify(start)}`);
  if (options.decode !== undefined && typeof options.decode !== "function") fail("decode", "decode must be a function (value, meta) => row");
  if (options.sasl !== undefined) {
    const sasl: unknown = options.sasl;
    const mechanisms: readonly unknown[] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];
    if (typeof sasl !== "object" || sasl === null || !mechanisms.includes((sasl as { mechanism?: unknown }).mechanism)) {
      fail("sasl", `sasl.mechanism must be one of ${mechanisms.join(", ")}`);
    }
    const { username, password } = sasl as { username?: unknown; password?: unknown };
    if (typeof username !== "string" || typeof password !== "string") fail("sasl", "sasl needs a username and a password (strings)");
  }
  const sessionTimeoutMs = whole(options, "sessionTimeoutMs", 30_000, 1);
  const heartbeatIntervalMs = whole(options, "heartbeatIntervalMs", 3_000, 1);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    fail("heartbeatIntervalMs", `heartbeatIntervalMs (${heartbeatIntervalMs}) must be below sessionTimeoutMs (${sessionTimeoutMs})`);
  }
  const rebalanceTimeoutMs = whole(options, "rebalanceTimeoutMs", 60_000, 1);
  if (heartbeatIntervalMs >= rebalanceTimeoutMs) {
    fail("heartbeatIntervalMs", `heartbeatIntervalMs (${heartbeatIntervalMs}) must be below rebalanceTimeoutMs (${rebalanceTimeoutMs})`);
  }
  return {
    brokers,
    topic,
    groupId,
    clientId,
    start,
    connectTimeoutMs: whole(options, "connectTimeoutMs", 5_000, 1),
    requestTimeoutMs: whole(options, "requestTimeoutMs", 10_000, 1),
    retries: whole(options, "retries", 2, 0),
    retryDelayMs: whole(options, "retryDelayMs", 500, 0),
    fetchMaxWaitMs: whole(options, "fetchMaxWaitMs", 500, 0),
    sessionTimeoutMs,
    heartbeatIntervalMs,
    rebalanceTimeoutMs,
    groupInstanceId,
    bufferMessages: whole(options, "bufferMessages", 1_024, 1),
  };
}

/**
 * The longest `open` can take against brokers that do not answer: each
 * attempt of the first request times out, with a pause between attempts
 * (plus a margin for the work after a successful connect).
 */
export function connectBudgetMs(s: Pick<KafkaSettings, "connectTimeoutMs" | "requestTimeoutMs" | "retries" | "retryDelayMs">): number {
  return (s.retries + 1) * (s.connectTimeoutMs + s.requestTimeoutMs) + s.retries * s.retryDelayMs;
}
