import { createHash } from "node:crypto";
import { deserialize, serialize } from "node:v8";
import { StorageError } from "../../errors.js";
import { FileCheckpointMedium, type CheckpointMedium } from "./checkpointMedium.js";
import type { StateStore } from "./stateStore.js";

/**
 * Online state as a chain of checkpoints, for jobs that must survive a crash
 * at any instant and a damaged newest checkpoint. In a directory (the
 * default medium) the chain is files:
 *
 *   <dir>/000000000041.ckpt   full snapshot (every key)
 *   <dir>/000000000042.ckpt   delta: the keys changed since 41, and the metadata
 *   <dir>/000000000043.ckpt   delta ...
 *
 * and in Redis (RedisCheckpointMedium) fields of one hash. Each checkpoint is
 * one atomic write of `MAGIC | sha256(body) | body length | body`, the body
 * holding the changed keys and the store metadata (source positions,
 * watermarks, counters) together, so state and positions always come from
 * the same checkpoint.
 *
 * Opening loads the newest checkpoint whose whole chain (its full snapshot
 * and every delta after it) is intact: a truncated or bit-flipped newest
 * checkpoint fails its length or checksum and the one before it is used.
 * Damaged and abandoned checkpoints are set aside (files renamed `*.corrupt`;
 * in Redis moved to a `:corrupt` hash), kept for inspection, never read.
 * Every `fullEvery` checkpoints a full snapshot starts a new chain; the
 * previous chain is kept until the next one starts, so there is always a
 * fallback.
 */
export class CheckpointStateStore implements StateStore {
  private readonly data = new Map<string, Map<string, { group: number; value: unknown }>>();
  private lastMeta: unknown = undefined;
  /** Epoch of the newest checkpoint loaded or written; 0 before any. */
  private epochNow = 0;
  /** Epochs of the current chain (its full snapshot first) and of the one before it. */
  private chain: number[] = [];
  private previousChain: number[] = [];
  /** What the last open found damaged or abandoned, for logs and tests. */
  readonly skipped: Array<{ epoch: number; reason: string }> = [];

  /** A commit's write is in flight. */
  private writing = false;

  get description(): string {
    const caveat = this.medium.caveat;
    return `checkpoints in ${this.medium.description}${caveat === undefined ? "" : ` (${caveat})`}`;
  }

  private constructor(
    /** Where the checkpoints are kept. */
    readonly medium: CheckpointMedium,
    private readonly fullEvery: number,
  ) {}

  /** Opens (creating) a checkpoint directory and loads its newest intact checkpoint. */
  static async open(dir: string, options: { fullEvery?: number } = {}): Promise<CheckpointStateStore> {
    return CheckpointStateStore.openOn(new FileCheckpointMedium(dir), options);
  }

  /** Loads the newest intact checkpoint of a medium (a directory, a Redis hash). */
  static async openOn(medium: CheckpointMedium, options: { fullEvery?: number } = {}): Promise<CheckpointStateStore> {
    const fullEvery = options.fullEvery ?? 50;
    if (!Number.isSafeInteger(fullEvery) || fullEvery < 1) throw new StorageError(`checkpoints: fullEvery must be a whole number >= 1, got ${fullEvery}`);
    const store = new CheckpointStateStore(medium, fullEvery);
    try {
      await store.load();
    } catch (cause) {
      await medium.close().catch(() => {});
      throw cause instanceof StorageError ? cause : new StorageError(`cannot load the checkpoints of ${medium.description}`, { cause });
    }
    return store;
  }

  /** The epoch of the checkpoint the state is at (0 when there is none). */
  get epoch(): number {
    return this.epochNow;
  }

  get(table: string, key: string): unknown {
    return this.data.get(table)?.get(key)?.value;
  }

  meta(): unknown {
    return this.lastMeta;
  }

  *keys(table: string): Iterable<string> {
    const t = this.data.get(table);
    if (t !== undefined) yield* t.keys();
  }

  /**
   * Writes one checkpoint: the changed keys and the metadata, encoded at the
   * call (later changes to the values are not in it). The store changes only
   * once the checkpoint is durable: a failed write changes nothing. One
   * commit at a time: each builds on the state the one before left.
   */
  async commit(entries: ReadonlyArray<{ table: string; group: number; key: string; value: unknown }>, meta: unknown): Promise<void> {
    if (this.writing) throw new StorageError(`checkpoints (${this.medium.description}): a commit is already being written; wait for it`);
    const rows: Entry[] = entries.map((e) => [e.table, e.group, e.key, e.value]);
    const epoch = this.epochNow + 1;
    const full = this.chain.length === 0 || this.chain.length >= this.fullEvery;
    let body: Body;
    if (full) {
      const all: Entry[] = [];
      const changed = new Set(rows.map(([table, , key]) => `${table}\u0000${key}`));
      for (const [table, keys] of this.data) {
        for (const [key, { group, value }] of keys) if (!changed.has(`${table}\u0000${key}`)) all.push([table, group, key, value]);
      }
      body = { epoch, full: true, entries: all.concat(rows), meta };
    } else body = { epoch, full: false, entries: rows, meta };
    const blob = encode(body);
    this.writing = true;
    try {
      // A new chain replaces the one before the current: it is dropped in the same write.
      await this.medium.write(epoch, blob, full ? this.previousChain : []);
    } finally {
      this.writing = false;
    }
    for (const [table, group, key, value] of rows) this.put(table, group, key, value);
    this.lastMeta = meta;
    this.epochNow = epoch;
    if (full) {
      this.previousChain = this.chain;
      this.chain = [epoch];
    } else this.chain.push(epoch);
  }

  async close(): Promise<void> {
    await this.medium.close();
  }

  private put(table: string, group: number, key: string, value: unknown): void {
    let t = this.data.get(table);
    if (t === undefined) this.data.set(table, (t = new Map()));
    t.set(key, { group, value });
  }

  /** Loads the newest checkpoint whose chain is intact; sets aside what is newer. */
  private async load(): Promise<void> {
    const epochs = await this.medium.list();
    // Every stored checkpoint, checked: the chains are resolved from these.
    const bodies = new Map<number, Body | string>();
    for (const epoch of epochs) bodies.set(epoch, await readCheckpoint(this.medium, epoch));
    const read = (epoch: number): Body | string => bodies.get(epoch) as Body | string;
    for (let i = epochs.length - 1; i >= 0; i--) {
      const chain = chainEnding(epochs, i, read);
      if (typeof chain === "string") {
        this.skipped.push({ epoch: epochs[i] as number, reason: chain });
        continue;
      }
      for (const e of epochs.slice(i + 1)) await this.medium.setAside(e);
      for (const b of chain) for (const [table, group, key, value] of b.entries) this.put(table, group, key, value);
      const newest = chain[chain.length - 1] as Body;
      this.lastMeta = newest.meta;
      this.epochNow = newest.epoch;
      this.chain = chain.map((b) => b.epoch);
      const base = this.chain[0] as number;
      // The chain before this one, kept as a fallback; anything older is no longer needed.
      const older = epochs.filter((e) => e < base);
      const prevBase = [...older].reverse().find((e) => { const b = read(e); return typeof b !== "string" && b.full; });
      this.previousChain = prevBase === undefined ? [] : older.filter((e) => e >= prevBase);
      await this.medium.drop(older.filter((e) => prevBase === undefined || e < prevBase));
      return;
    }
    for (const e of epochs) await this.medium.setAside(e);
  }
}

type Entry = [table: string, group: number, key: string, value: unknown];

interface Body {
  readonly epoch: number;
  readonly full: boolean;
  readonly entries: readonly Entry[];
  readonly meta: unknown;
}

const MAGIC = "FRSHCKP1";
const HEADER = MAGIC.length + 32 + 8;

/** The chain of bodies ending at epochs[i] (its full snapshot first), or why it cannot be used. */
function chainEnding(epochs: readonly number[], i: number, read: (epoch: number) => Body | string): Body[] | string {
  const chain: Body[] = [];
  for (let j = i; j >= 0; j--) {
    const epoch = epochs[j] as number;
    const b = read(epoch);
    if (typeof b === "string") return j === i ? b : `an earlier checkpoint of its chain (${epoch}) is damaged: ${b}`;
    if (j < i && b.epoch !== (chain[0] as Body).epoch - 1) return `checkpoint ${b.epoch + 1} of its chain is missing`;
    chain.unshift(b);
    if (b.full) return chain;
  }
  return "its full snapshot is missing";
}

/** `MAGIC | sha256(payload) | payload length | payload`. */
function encode(body: Body): Buffer {
  const payload = serialize(body);
  const header = Buffer.alloc(HEADER);
  header.write(MAGIC, 0, "latin1");
  createHash("sha256").update(payload).digest().copy(header, MAGIC.length);
  header.writeBigUInt64LE(BigInt(payload.length), MAGIC.length + 32);
  return Buffer.concat([header, payload]);
}

/** A checkpoint's body, or why it is unusable (truncated, wrong checksum, unreadable). */
async function readCheckpoint(medium: CheckpointMedium, epoch: number): Promise<Body | string> {
  let buf: Buffer;
  try {
    buf = await medium.read(epoch);
  } catch (err) {
    return `cannot read it: ${(err as Error).message}`;
  }
  if (buf.length < HEADER || buf.toString("latin1", 0, MAGIC.length) !== MAGIC) return "not a checkpoint (bad header)";
  const length = buf.readBigUInt64LE(MAGIC.length + 32);
  if (BigInt(buf.length - HEADER) !== length) return `truncated or padded: body of ${buf.length - HEADER} bytes, header says ${length}`;
  const payload = buf.subarray(HEADER);
  const sum = createHash("sha256").update(payload).digest();
  if (!sum.equals(buf.subarray(MAGIC.length, MAGIC.length + 32))) return "checksum mismatch";
  let body: unknown;
  try {
    body = deserialize(payload);
  } catch (err) {
    return `cannot decode it: ${(err as Error).message}`;
  }
  if (typeof body !== "object" || body === null || (body as Body).epoch !== epoch || !Array.isArray((body as Body).entries)) return "body does not match its epoch";
  return body as Body;
}
