import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { StorageError } from "../../errors.js";

/**
 * Where a checkpoint chain's blobs live (see CheckpointStateStore): files in
 * a directory, or a Redis hash (RedisCheckpointMedium). A medium stores
 * opaque blobs by epoch; the chain checks them (length, checksum) itself.
 */
export interface CheckpointMedium {
  /** Where, for messages: a directory, a Redis key. */
  readonly description: string;
  /** What the log of a job writing here should say about durability, if anything (Redis: its persistence setting). */
  readonly caveat?: string;
  /** The epochs stored, ascending; clears what a write cut short left behind. */
  list(): Promise<number[]>;
  /** One checkpoint's blob; throws when it cannot be read. */
  read(epoch: number): Promise<Buffer>;
  /**
   * Stores one checkpoint durably, and drops the given (older) epochs, in
   * one atomic step: after a crash the blob is either wholly there or absent.
   */
  write(epoch: number, blob: Buffer, drop: readonly number[]): Promise<void>;
  /** Moves a damaged or abandoned checkpoint aside: kept for inspection, never read again. */
  setAside(epoch: number): Promise<void>;
  /** Removes checkpoints no longer needed. */
  drop(epochs: readonly number[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Checkpoint files in a directory, `<dir>/000000000042.ckpt`: each written
 * to a temporary file, fsynced, renamed into place and the directory
 * fsynced, so a crash leaves the whole file or none (a stray `.ckpt.tmp` is
 * removed on the next open). Set-aside files are renamed `*.ckpt.corrupt`.
 */
export class FileCheckpointMedium implements CheckpointMedium {
  readonly description: string;
  constructor(private readonly dir: string) {
    this.description = dir;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw new StorageError(`cannot create the checkpoint directory ${dir}`, { cause });
    }
  }

  async list(): Promise<number[]> {
    const epochs: number[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = /^(\d{12})\.ckpt$/.exec(name);
      if (m !== null) epochs.push(Number(m[1]));
      else if (name.endsWith(".ckpt.tmp")) rmSync(join(this.dir, name), { force: true }); // a write cut short
    }
    return epochs.sort((a, b) => a - b);
  }

  async read(epoch: number): Promise<Buffer> {
    return readFileSync(this.path(epoch));
  }

  async write(epoch: number, blob: Buffer, drop: readonly number[]): Promise<void> {
    const path = this.path(epoch);
    const temp = `${path}.tmp`;
    try {
      const fd = openSync(temp, "w");
      try {
        writeSync(fd, blob);
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
    // Dropped after the new file is durable: a crash in between only leaves a file the next open removes.
    await this.drop(drop);
  }

  async setAside(epoch: number): Promise<void> {
    renameSync(this.path(epoch), `${this.path(epoch)}.corrupt`);
  }

  async drop(epochs: readonly number[]): Promise<void> {
    for (const e of epochs) rmSync(this.path(e), { force: true });
  }

  async close(): Promise<void> {}

  /** The file of one epoch (tests damage it). */
  path(epoch: number): string {
    return join(this.dir, `${String(epoch).padStart(12, "0")}.ckpt`);
  }
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
