import { Redis } from "ioredis";
import { messageOf } from "../../core/errorMessage.js";
import { DefinitionError, FreshetError, SourceError } from "../../errors.js";
import { checkNextArgs, decodeJson, decoderThrew, StreamDecodeFailure, type SourcePosition, type StreamBatch, type StreamSource, type StreamSourceStats } from "../stream/streamSource.js";
import { compareStreamIds, isStreamId } from "./streamId.js";

export interface RedisStreamSourceOptions {
  /** redis://[user:password@]host:6379[/db] (rediss:// for TLS). */
  readonly url: string;
  /** The stream's key; created empty (MKSTREAM) when missing. */
  readonly stream: string;
  /** The consumer group; created when missing. One Freshet job reads a group (see below). */
  readonly group: string;
  /** This reader's name in the group. */
  readonly consumer: string;
  /**
   * "json" (default): the row is the JSON in the entry's field `field`.
   * "fields": the row is the entry's field/value pairs, every value text (`text` is then true).
   */
  readonly format?: "json" | "fields";
  /** The field holding the JSON payload (default "data"); only with format "json". */
  readonly field?: string;
  /** Turns the payload field into a row instead of JSON.parse; a throw becomes a StreamDecodeFailure. Only with format "json". */
  readonly decode?: (payload: string) => unknown;
  /** Most entries one XREADGROUP returns (default 10,000); `next` returns at most min(maxRows, batch). */
  readonly batch?: number;
  /** Where to start when `open` gets no position: the stream's first entry (default) or only entries added after `open`. */
  readonly start?: "first" | "new";
}

/** Entries acknowledged per XACK. */
const ACK_CHUNK = 10_000;
/** Crash windows up to this many entries are counted to keep the group's lag exact after a rewind. */
const MAX_COUNTED_REWIND = 10_000;

/**
 * A Redis stream read through a consumer group (XREADGROUP), acknowledged
 * (XACK) only in `commit`.
 *
 * Position: the id of the last entry handed out ("0-0" before the first).
 * The job's checkpoint, not the group, is the source of truth. `open(from)`
 * sets the group's last-delivered id to `from` (XGROUP SETID, skipped when it
 * is already there), so XREADGROUP ">" yields exactly the entries after
 * `from`: the never-delivered ones, and also those delivered before a crash
 * and never acknowledged (they sit in the pending list; Redis delivers them
 * again and moves them to this consumer). Entries of this consumer still
 * pending at or before `from` are acknowledged at open: the checkpoint
 * holding them is durable, so that is the commit the crash interrupted.
 * Nothing after `from` is skipped, nothing at or before it comes again.
 *
 * Because open moves the group, a group belongs to one reader: give every
 * job its own group (several groups can read one stream).
 *
 * If a read fails (the connection dropped while XREADGROUP waited), Redis may
 * have delivered entries whose reply was lost; the next call moves the group
 * back to the last position handed out before reading, so they come again.
 */
export function redisStreamSource(options: RedisStreamSourceOptions): StreamSource {
  return new RedisStreamSource(checkOptions(options));
}

interface Checked {
  readonly url: string;
  readonly address: string;
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly format: "json" | "fields";
  readonly field: string;
  readonly decode: ((payload: string) => unknown) | undefined;
  readonly batch: number;
  readonly start: "first" | "new";
}

function checkOptions(o: RedisStreamSourceOptions): Checked {
  const fail = (field: string, what: string): never => {
    throw new DefinitionError(`redisStreamSource: ${field} ${what}`, { field });
  };
  let address = "";
  try {
    const u = new URL(o.url);
    if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw new Error("protocol");
    address = `${u.hostname || "localhost"}:${u.port || "6379"}${u.pathname.length > 1 ? u.pathname : ""}`;
  } catch {
    fail("url", `must be a URL like "redis://127.0.0.1:6379", got ${JSON.stringify(o.url)}`);
  }
  const name = (field: "stream" | "group" | "consumer"): string => {
    const v = o[field];
    if (typeof v !== "string" || v === "") fail(field, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  };
  const format = o.format ?? "json";
  if (format !== "json" && format !== "fields") fail("format", `must be "json" or "fields", got ${JSON.stringify(o.format)}`);
  if (format === "fields" && o.field !== undefined) fail("field", 'applies to format "json" only; with format "fields" the row is every field of the entry');
  if (format === "fields" && o.decode !== undefined) fail("decode", 'applies to format "json" only');
  const field = o.field ?? "data";
  if (typeof field !== "string" || field === "") fail("field", `must be a non-empty string, got ${JSON.stringify(o.field)}`);
  if (o.decode !== undefined && typeof o.decode !== "function") fail("decode", "must be a function");
  const batch = o.batch ?? 10_000;
  if (!Number.isSafeInteger(batch) || batch < 1 || batch > 1_000_000) fail("batch", `must be a whole number from 1 to 1,000,000, got ${String(o.batch)}`);
  const start = o.start ?? "first";
  if (start !== "first" && start !== "new") fail("start", `must be "first" or "new", got ${JSON.stringify(o.start)}`);
  return { url: o.url, address, stream: name("stream"), group: name("group"), consumer: name("consumer"), format, field, decode: o.decode, batch, start };
}

/** One XREADGROUP reply's worth handed out: the ids to XACK at commit. */
interface HandedOut {
  readonly last: string;
  readonly ids: readonly string[];
}

class RedisStreamSource implements StreamSource {
  readonly kind = "redis-streams";
  readonly text: boolean;
  readonly description: string;
  /** Commands (group setup, XACK, XINFO). */
  private cmd: Redis | undefined;
  /** Blocking XREADGROUP only, so a wait never holds up a commit or a lag read. */
  private reader: Redis | undefined;
  private lastError: unknown;
  /** Id of the last entry handed out; undefined while not open. */
  private position: string | undefined;
  /** Fails the XREADGROUP in flight (its connection closed). */
  private abortRead: (() => void) | undefined;
  /** A read failed: Redis may have delivered entries we never saw. */
  private resync = false;
  private uncommitted: HandedOut[] = [];
  private read = 0;
  private committed = 0;

  constructor(private readonly o: Checked) {
    this.text = o.format === "fields";
    this.description = `Redis ${o.address} stream ${o.stream} (group ${o.group}, consumer ${o.consumer})`;
  }

  async open(from: SourcePosition | undefined): Promise<void> {
    if (from !== undefined && !isStreamId(from)) {
      throw new SourceError(`Redis stream source: position must be a stream entry id like "1700000000000-0", got ${JSON.stringify(from)}`);
    }
    await this.close();
    this.lastError = undefined;
    // Failed commands are not re-sent after a reconnect: a re-sent XREADGROUP ">" would skip what the lost reply carried.
    const options = { lazyConnect: true, autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 1 };
    // Named, so CLIENT LIST shows which job holds a connection.
    const name = `freshet:${this.o.group}:${this.o.consumer}`.replace(/\s/g, "_");
    const cmd = new Redis(this.o.url, { ...options, connectionName: `${name}:cmd` });
    const reader = new Redis(this.o.url, { ...options, connectionName: `${name}:read` });
    for (const client of [cmd, reader]) {
      // ioredis reports connection trouble as events; kept as the cause of the next failure.
      client.on("error", (error: unknown) => {
        this.lastError = error;
      });
    }
    // Without resending, ioredis drops a command in flight when the connection closes and never settles it.
    reader.on("close", () => this.abortRead?.());
    this.cmd = cmd;
    this.reader = reader;
    try {
      await Promise.all([cmd.connect(), reader.connect()]);
    } catch (cause) {
      const reason = this.lastError ?? cause;
      await this.close();
      throw new SourceError(`Cannot connect to Redis at ${this.o.address}: ${messageOf(reason)}. Check that Redis is running and the URL is right.`, {}, { cause: reason });
    }
    try {
      await this.createGroup(cmd);
      const at = from ?? (this.o.start === "new" ? await this.lastGeneratedId(cmd) : "0-0");
      await this.moveGroup(cmd, at);
      await this.ackPendingUpTo(cmd, at);
      this.position = at;
      this.resync = false;
      this.read = 0;
      this.committed = 0;
    } catch (cause) {
      await this.close();
      throw this.failure(`open stream ${this.o.stream} for group ${this.o.group}`, cause);
    }
  }

  private async createGroup(cmd: Redis): Promise<void> {
    try {
      await cmd.call("XGROUP", "CREATE", this.o.stream, this.o.group, "0", "MKSTREAM");
    } catch (err) {
      if (!/BUSYGROUP/.test(messageOf(err))) throw err;
    }
  }

  private async lastGeneratedId(cmd: Redis): Promise<string> {
    const info = pairs(await cmd.call("XINFO", "STREAM", this.o.stream));
    const id = info.get("last-generated-id");
    if (!isStreamId(id)) throw new SourceError(`Redis at ${this.o.address} answered XINFO STREAM ${this.o.stream} without a last-generated-id`);
    return id;
  }

  /** The group's entry in XINFO GROUPS. */
  private async groupInfo(cmd: Redis): Promise<Map<string, unknown>> {
    const reply = await cmd.call("XINFO", "GROUPS", this.o.stream);
    for (const g of Array.isArray(reply) ? reply : []) {
      const info = pairs(g);
      if (info.get("name") === this.o.group) return info;
    }
    throw new SourceError(`Redis at ${this.o.address}: group ${this.o.group} of stream ${this.o.stream} disappeared (XGROUP DESTROY?); open the source again`);
  }

  /**
   * Makes ">" deliver the entries after `at`. Redis 7 keeps a group's lag only
   * while it knows how many entries the group has read; after a rewind over a
   * short crash window that count is the old one minus the entries in the
   * window (exact when none after `at` was deleted), and at the stream's end
   * it is every entry ever added, so it is passed along.
   */
  private async moveGroup(cmd: Redis, at: string): Promise<void> {
    const info = await this.groupInfo(cmd);
    const delivered = info.get("last-delivered-id");
    if (delivered === at) return;
    const args: Array<string | number> = ["SETID", this.o.stream, this.o.group, at];
    const entriesRead = info.get("entries-read");
    const stream = pairs(await cmd.call("XINFO", "STREAM", this.o.stream));
    const added = stream.get("entries-added");
    // Redis 6 keeps no entries-read count, and its SETID takes no ENTRIESREAD.
    if (at === "0-0" && info.has("entries-read")) args.push("ENTRIESREAD", 0);
    else if (at === stream.get("last-generated-id") && typeof added === "number") args.push("ENTRIESREAD", added);
    else if (typeof entriesRead === "number" && isStreamId(delivered) && compareStreamIds(at, delivered) < 0) {
      const maxDeleted = stream.get("max-deleted-entry-id");
      if (isStreamId(maxDeleted) && compareStreamIds(maxDeleted, at) <= 0) {
        const window = await cmd.call("XRANGE", this.o.stream, `(${at}`, delivered, "COUNT", MAX_COUNTED_REWIND + 1);
        if (Array.isArray(window) && window.length <= MAX_COUNTED_REWIND) args.push("ENTRIESREAD", entriesRead - window.length);
      }
    }
    await cmd.call("XGROUP", ...args);
  }

  /** Acknowledges this consumer's entries still pending at or before `at` (handed out and checkpointed before a crash). */
  private async ackPendingUpTo(cmd: Redis, at: string): Promise<void> {
    for (;;) {
      const reply = await cmd.call("XPENDING", this.o.stream, this.o.group, "-", at, ACK_CHUNK, this.o.consumer);
      const ids = (Array.isArray(reply) ? reply : []).map((p: unknown) => (Array.isArray(p) ? p[0] : undefined)).filter(isStreamId);
      if (ids.length === 0) return;
      await cmd.call("XACK", this.o.stream, this.o.group, ...ids);
      if (ids.length < ACK_CHUNK) return;
    }
  }

  async next(maxRows: number, maxWaitMs: number): Promise<StreamBatch> {
    checkNextArgs(this.kind, maxRows, maxWaitMs);
    const { reader, cmd } = this;
    const position = this.position;
    if (reader === undefined || cmd === undefined || position === undefined) throw new SourceError("Redis stream source: next() before open()");
    let reply: unknown;
    try {
      if (this.resync) {
        await cmd.call("XGROUP", "SETID", this.o.stream, this.o.group, position);
        this.resync = false;
      }
      const count = Math.min(maxRows, this.o.batch);
      const wait = Math.ceil(maxWaitMs);
      const block = wait > 0 ? ["BLOCK", wait] : [];
      reply = await new Promise<unknown>((resolve, reject) => {
        this.abortRead = () => reject(new Error("the connection closed while XREADGROUP waited"));
        reader.call("XREADGROUP", "GROUP", this.o.group, this.o.consumer, "COUNT", count, ...block, "STREAMS", this.o.stream, ">").then(resolve, reject);
      }).finally(() => {
        this.abortRead = undefined;
      });
    } catch (cause) {
      this.resync = true;
      throw this.failure(`read stream ${this.o.stream}`, cause);
    }
    const entries = entriesOf(reply);
    if (entries.length === 0) return { rows: [], position };
    const rows: unknown[] = new Array(entries.length);
    const ids: string[] = new Array(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const [id, fields] = entries[i] as Entry;
      ids[i] = id;
      rows[i] = this.decode(id, fields);
    }
    const last = ids[ids.length - 1] as string;
    this.position = last;
    this.uncommitted.push({ last, ids });
    this.read += rows.length;
    return { rows, position: last };
  }

  private decode(id: string, fields: readonly unknown[]): unknown {
    if (this.o.format === "fields") {
      const row: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) row[String(fields[i])] = String(fields[i + 1]);
      return row;
    }
    let payload: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === this.o.field) payload = String(fields[i + 1]);
    if (payload === undefined) return new StreamDecodeFailure(`entry has no field "${this.o.field}"`, JSON.stringify(fields), id);
    if (this.o.decode === undefined) return decodeJson(payload, id);
    try {
      return this.o.decode(payload);
    } catch (err) {
      return decoderThrew(messageOf(err), payload, id);
    }
  }

  async commit(position: SourcePosition): Promise<void> {
    if (!isStreamId(position)) throw new SourceError(`Redis stream source: cannot commit position ${JSON.stringify(position)}; positions are entry ids`);
    const cmd = this.cmd;
    if (cmd === undefined) throw new SourceError("Redis stream source: commit() before open()");
    let n = 0;
    while (n < this.uncommitted.length && compareStreamIds((this.uncommitted[n] as HandedOut).last, position) <= 0) n++;
    if (n === 0) return;
    const ids = this.uncommitted.slice(0, n).flatMap((h) => h.ids);
    try {
      const pipeline = cmd.pipeline();
      for (let i = 0; i < ids.length; i += ACK_CHUNK) pipeline.xack(this.o.stream, this.o.group, ...ids.slice(i, i + ACK_CHUNK));
      for (const [error] of (await pipeline.exec()) ?? []) if (error !== null) throw error;
    } catch (cause) {
      throw this.failure(`acknowledge entries up to ${position} on stream ${this.o.stream}`, cause);
    }
    this.uncommitted.splice(0, n);
    this.committed += ids.length;
  }

  async lag(): Promise<number | undefined> {
    const cmd = this.cmd;
    if (cmd === undefined) return undefined;
    try {
      const lag = (await this.groupInfo(cmd)).get("lag");
      // Redis 7 gives the group's lag, or nil when it cannot tell (after deletions); Redis 6 has no such field.
      return typeof lag === "number" ? lag : undefined;
    } catch (cause) {
      throw this.failure(`read the lag of group ${this.o.group}`, cause);
    }
  }

  stats(): StreamSourceStats {
    return { read: this.read, committed: this.committed };
  }

  async close(): Promise<void> {
    const clients = [this.cmd, this.reader];
    this.cmd = undefined;
    this.reader = undefined;
    this.position = undefined;
    this.uncommitted = [];
    for (const client of clients) {
      if (client === undefined) continue;
      // disconnect, not quit: a reader blocked in XREADGROUP would hold QUIT back until its wait ends.
      client.disconnect();
    }
  }

  /** A SourceError naming Redis and the address (our own errors pass through). */
  private failure(what: string, cause: unknown): FreshetError {
    if (cause instanceof FreshetError) return cause;
    return new SourceError(`Redis at ${this.o.address} failed to ${what}: ${messageOf(cause)}`, {}, { cause });
  }
}

type Entry = [id: string, fields: readonly unknown[]];

/** The entries of an XREADGROUP reply for one stream: [[key, [[id, [f, v, ...]], ...]]], or null after a timeout. */
function entriesOf(reply: unknown): Entry[] {
  if (!Array.isArray(reply)) return [];
  const first: unknown = reply[0];
  if (!Array.isArray(first) || !Array.isArray(first[1])) return [];
  const out: Entry[] = [];
  for (const e of first[1] as unknown[]) {
    if (Array.isArray(e) && typeof e[0] === "string") out.push([e[0], Array.isArray(e[1]) ? (e[1] as unknown[]) : []]);
  }
  return out;
}

/** A flat [name, value, name, value...] reply (XINFO) as a map. */
function pairs(reply: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), reply[i + 1]);
  return out;
}
