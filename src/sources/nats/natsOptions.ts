import { DefinitionError } from "../../errors.js";

export interface NatsSourceOptions {
  /** "nats://host:4222", "host:4222", or several for a cluster. */
  readonly servers: string | readonly string[];
  /** The JetStream stream to read; it must exist. */
  readonly stream: string;
  /** Only messages on this subject (wildcards allowed); default every subject of the stream. */
  readonly subject?: string;
  /** Name of the durable pull consumer this source owns (one reader per durable). */
  readonly durable: string;
  /** Messages per pull request (default 5,000). At most twice this many sit fetched but not handed out. */
  readonly batch?: number;
  /** Where to start when `open` gets no position: the stream's first message (default) or only messages published after `open`. */
  readonly start?: "first" | "new";
  /** How long the server waits for an ack before redelivering (default 1 hour): set it above the checkpoint interval. */
  readonly ackWaitMs?: number;
  /** Turns a payload into a row (default JSON). A throw becomes a StreamDecodeFailure. */
  readonly decode?: (payload: Uint8Array) => unknown;
  /** Connection timeout in milliseconds (default 5,000). */
  readonly connectTimeoutMs?: number;
}

/** Names of streams and consumers: no whitespace, dots, wildcards or path separators. */
const NAME = /^[^\s.*>/\\]+$/;

/** Options after checking, with defaults filled in. */
export interface CheckedNatsOptions {
  readonly servers: string[];
  readonly address: string;
  readonly stream: string;
  readonly subject: string | undefined;
  readonly durable: string;
  readonly batch: number;
  readonly start: "first" | "new";
  readonly ackWaitMs: number;
  readonly decode: ((payload: Uint8Array) => unknown) | undefined;
  readonly connectTimeoutMs: number;
}

/** Checks natsSource's options; a bad one is a DefinitionError naming it. */
export function checkNatsOptions(o: NatsSourceOptions): CheckedNatsOptions {
  const fail = (field: string, what: string): never => {
    throw new DefinitionError(`natsSource: ${field} ${what}`, { field });
  };
  const servers = typeof o.servers === "string" ? [o.servers] : [...(o.servers ?? [])];
  if (servers.length === 0 || servers.some((s) => typeof s !== "string" || s.trim() === "")) fail("servers", 'must name at least one server, e.g. "nats://127.0.0.1:4222"');
  if (typeof o.stream !== "string" || !NAME.test(o.stream)) fail("stream", `must be a JetStream stream name (no spaces, ".", "*", ">"), got ${JSON.stringify(o.stream)}`);
  if (typeof o.durable !== "string" || !NAME.test(o.durable)) fail("durable", `must be a consumer name (no spaces, ".", "*", ">"), got ${JSON.stringify(o.durable)}`);
  if (o.subject !== undefined && (typeof o.subject !== "string" || o.subject.trim() === "" || /\s/.test(o.subject))) fail("subject", `must be a subject without spaces, got ${JSON.stringify(o.subject)}`);
  const batch = o.batch ?? 5_000;
  if (!Number.isSafeInteger(batch) || batch < 1 || batch > 100_000) fail("batch", `must be a whole number from 1 to 100,000, got ${String(o.batch)}`);
  const start = o.start ?? "first";
  if (start !== "first" && start !== "new") fail("start", `must be "first" or "new", got ${JSON.stringify(o.start)}`);
  const ackWaitMs = o.ackWaitMs ?? 3_600_000;
  if (!Number.isSafeInteger(ackWaitMs) || ackWaitMs < 1_000) fail("ackWaitMs", `must be a whole number of milliseconds >= 1000, got ${String(o.ackWaitMs)}`);
  const connectTimeoutMs = o.connectTimeoutMs ?? 5_000;
  if (!Number.isSafeInteger(connectTimeoutMs) || connectTimeoutMs < 1) fail("connectTimeoutMs", `must be a positive whole number, got ${String(o.connectTimeoutMs)}`);
  if (o.decode !== undefined && typeof o.decode !== "function") fail("decode", "must be a function");
  return {
    servers,
    address: servers.map(withoutCredentials).join(","),
    stream: o.stream,
    subject: o.subject,
    durable: o.durable,
    batch,
    start,
    ackWaitMs,
    decode: o.decode,
    connectTimeoutMs,
  };
}

/** host:port of a server URL, without user and password (what messages name). */
function withoutCredentials(server: string): string {
  return server.replace(/^([a-z]+:\/\/)?[^@/]*@/i, "$1");
}

