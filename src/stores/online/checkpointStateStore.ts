import { createHash } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { StorageError } from "../../errors.js";
import type { StateStore } from "./stateStore.js";

/**
 * Online state as a chain of checkpoint files, for jobs that must survive a
 * crash at any instant and a damaged newest checkpoint:
 *
 *   <dir>/000000000041.ckpt   full snapshot (every key)
 *   <dir>/000000000042.ckpt   delta: the keys changed since 41, and the metadata
 *   <dir>/000000000043.ckpt   delta ...
 *
 * Each file is one atomic write (temporary file, fsync, rename, directory
 * fsync) of `MAGIC | sha256(body) | body length | body`, the body holding the
 * changed keys and the store metadata (source positions, watermarks, counters)
 * together, so state and positions always come from the same checkpoint.
 *
 * Opening loads the newest checkpoint whose whole chain (its full snapshot
 * and every delta after it) is intact: a truncated or bit-flipped newest file
 * fails its length or checksum and the one before it is used. Damaged and
 * abandoned files are renamed `*.corrupt` (kept for inspection, never read).
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

  private constructor(
    private readonly dir: string,
    private readonly fullEvery: number,
  ) {}

  /** Opens (creating) the directory and loads the newest intact checkpoint. */
  static open(dir: string, options: { fullEvery?: number } = {}): CheckpointStateStore {
    const fullEvery = options.fullEvery ?? 50;
    if (!Number.isSafeInteger(fullEvery) || fullEvery < 1) throw new StorageError(`checkpoints: fullEvery must be a whole number >= 1, got ${fullEvery}`);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw new StorageError(`cannot create the checkpoint directory ${dir}`, { cause });
    }
    const store = new CheckpointStateStore(dir, fullEvery);
    store.load();
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

  /** Writes one checkpoint file: the changed keys and the metadata. */
  commit(entries: ReadonlyArray<{ table: string; group: number; key: string; value: unknown }>, meta: unknown): void {
    const epoch = this.epochNow + 1;
    const full = this.chain.length === 0 || this.chain.length >= this.fullEvery;
    // Applied to a copy of the changed entries only after the file is durable: a failed write changes nothing.
    const rows: Entry[] = entries.map((e) => [e.table, e.group, e.key, e.value]);
    let body: Body;
    if (full) {
      const all: Entry[] = [];
      const changed = new Set(entries.map((e) => `${e.table}\u0000${e.key}`));
      for (const [table, keys] of this.data) {
        for (const [key, { group, value }] of keys) if (!changed.has(`${table}\u0000${key}`)) all.push([table, group, key, value]);
      }
      body = { epoch, full: true, entries: all.concat(rows), meta };
    } else body = { epoch, full: false, entries: rows, meta };
    this.writeFile(epoch, body);
    for (const [table, group, key, value] of rows) this.put(table, group, key, value);
    this.lastMeta = meta;
    this.epochNow = epoch;
    if (full) {
      this.dropFiles(this.previousChain);
      this.previousChain = this.chain;
      this.chain = [epoch];
    } else this.chain.push(epoch);
  }

  async close(): Promise<void> {}

  private put(table: string, group: number, key: string, value: unknown): void {
    let t = this.data.get(table);
    if (t === undefined) this.data.set(table, (t = new Map()));
    t.set(key, { group, value });
  }

  private path(epoch: number): string {
    return join(this.dir, `${String(epoch).padStart(12, "0")}.ckpt`);
  }

  private writeFile(epoch: number, body: Body): void {
    const payload = serialize(body);
    const header = Buffer.alloc(HEADER);
    header.write(MAGIC, 0, "latin1");
    createHash("sha256").update(payload).digest().copy(header, MAGIC.length);
    header.writeBigUInt64LE(BigInt(payload.length), MAGIC.length + 32);
    const path = this.path(epoch);
    const temp = `${path}.tmp`;
    try {
      const fd = openSync(temp, "w");
      try {
        writeSync(fd, header);
        writeSync(fd, payload);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, path);
      syncDir(this.dir);
    } catch (cause) {
      rmSync(temp, { force: true });
      throw new StorageError(`cannot write checkpoint ${path}`, { cause });
    }
  }

  /** Loads the newest checkpoint whose chain is intact; sets aside what is newer. */
  private load(): void {
    const epochs = this.listEpochs();
    const bodies = new Map<number, Body | string>();
    const read = (epoch: number): Body | string => {
      let b = bodies.get(epoch);
      if (b === undefined) bodies.set(epoch, (b = readCheckpoint(this.path(epoch), epoch)));
      return b;
    };
    for (let i = epochs.length - 1; i >= 0; i--) {
      const chain = chainEnding(epochs, i, read);
      if (typeof chain === "string") {
        this.skipped.push({ epoch: epochs[i] as number, reason: chain });
        continue;
      }
      for (const e of epochs.slice(i + 1)) this.setAside(e);
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
      this.dropFiles(older.filter((e) => prevBase === undefined || e < prevBase));
      return;
    }
    for (const e of epochs) this.setAside(e);
  }

  private listEpochs(): number[] {
    const epochs: number[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = /^(\d{12})\.ckpt$/.exec(name);
      if (m !== null) epochs.push(Number(m[1]));
      else if (name.endsWith(".ckpt.tmp")) rmSync(join(this.dir, name), { force: true }); // a write cut short
    }
    return epochs.sort((a, b) => a - b);
  }

  private setAside(epoch: number): void {
    renameSync(this.path(epoch), `${this.path(epoch)}.corrupt`);
  }

  private dropFiles(epochs: readonly number[]): void {
    for (const e of epochs) rmSync(this.path(e), { force: true });
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

/** A checkpoint file's body, or why it is unusable (truncated, wrong checksum, unreadable). */
function readCheckpoint(path: string, epoch: number): Body | string {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    return `cannot read it: ${(err as Error).message}`;
  }
  if (buf.length < HEADER || buf.toString("latin1", 0, MAGIC.length) !== MAGIC) return "not a checkpoint file (bad header)";
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
  if (typeof body !== "object" || body === null || (body as Body).epoch !== epoch || !Array.isArray((body as Body).entries)) return "body does not match its file name";
  return body as Body;
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
