import { Redis, type RedisOptions } from "ioredis";
import { StorageError } from "../../errors.js";
import type { CheckpointMedium } from "./checkpointMedium.js";

export interface RedisCheckpointOptions {
  /** A redis:// URL, or ioredis options. */
  readonly redis: string | RedisOptions;
  /**
   * Key prefix: the chain is the hash `<prefix>:checkpoints` (field: the
   * 12-digit epoch, value: the checkpoint) and set-aside checkpoints go to
   * `<prefix>:corrupt`. One prefix per job. Default "freshet".
   */
  readonly prefix?: string;
}

/** How the Redis server keeps what it is told (CONFIG GET appendonly/appendfsync). */
export type RedisDurability = "aof-always" | "aof-everysec" | "aof-no" | "rdb-snapshots" | "memory-only" | "unknown";

/**
 * Checkpoints in Redis, the Redis equivalent of the checkpoint files: each
 * checkpoint is one field of one hash, written with the dropping of the
 * chain it replaces in one MULTI/EXEC transaction, so another client (or a
 * restart) sees all of it or none. The blob carries its own length and
 * sha256 (CheckpointStateStore checks them), so a damaged field is detected
 * and the previous checkpoint used, as with files.
 *
 * A checkpoint survives a Redis restart only as far as Redis persists it:
 * with `appendonly yes` and `appendfsync always` an acknowledged checkpoint
 * is on disk (as durable as a file fsync); with `everysec` (or RDB snapshots
 * only) the checkpoints since the last sync can be lost when Redis stops (the
 * job then resumes from an older, still consistent checkpoint: state and
 * positions stay together); without persistence a Redis restart loses them
 * all. `durability` reports the server's setting.
 */
export class RedisCheckpointMedium implements CheckpointMedium {
  readonly description: string;
  private readonly chainKey: string;
  private readonly corruptKey: string;

  private constructor(
    private readonly client: Redis,
    prefix: string,
    /** The server's persistence setting when the medium was opened. */
    readonly durability: RedisDurability,
  ) {
    this.chainKey = `${prefix}:checkpoints`;
    this.corruptKey = `${prefix}:corrupt`;
    this.description = `redis hash ${this.chainKey}`;
  }

  get caveat(): string {
    return `Redis ${durabilityNote(this.durability)}`;
  }

  static async connect(options: RedisCheckpointOptions): Promise<RedisCheckpointMedium> {
    const prefix = options.prefix ?? "freshet";
    if (typeof prefix !== "string" || prefix.length === 0) throw new StorageError("redis checkpoints: prefix must be a non-empty string");
    const settings = { lazyConnect: true, maxRetriesPerRequest: 2, connectionName: `freshet-checkpoints:${prefix}` };
    const client = typeof options.redis === "string" ? new Redis(options.redis, settings) : new Redis({ ...options.redis, ...settings });
    client.on("error", () => {}); // reported by the command that fails
    try {
      await client.connect();
    } catch (cause) {
      client.disconnect();
      throw new StorageError(`cannot connect to Redis for checkpoints (${describe(options.redis)})`, { cause });
    }
    return new RedisCheckpointMedium(client, prefix, await durabilityOf(client));
  }

  async list(): Promise<number[]> {
    const fields = await this.run("list", () => this.client.hkeys(this.chainKey));
    return fields
      .filter((f) => /^\d{12}$/.test(f))
      .map(Number)
      .sort((a, b) => a - b);
  }

  async read(epoch: number): Promise<Buffer> {
    const blob = await this.run("read", () => this.client.hgetBuffer(this.chainKey, field(epoch)));
    if (blob === null) throw new StorageError(`checkpoint ${epoch} is not in ${this.chainKey}`);
    return blob;
  }

  async write(epoch: number, blob: Buffer, drop: readonly number[]): Promise<void> {
    const multi = this.client.multi().hset(this.chainKey, field(epoch), blob);
    if (drop.length > 0) multi.hdel(this.chainKey, ...drop.map(field));
    await this.exec("write", multi);
  }

  async setAside(epoch: number): Promise<void> {
    const blob = await this.run("read", () => this.client.hgetBuffer(this.chainKey, field(epoch)));
    const multi = this.client.multi();
    if (blob !== null) multi.hset(this.corruptKey, field(epoch), blob);
    await this.exec("set aside", multi.hdel(this.chainKey, field(epoch)));
  }

  async drop(epochs: readonly number[]): Promise<void> {
    if (epochs.length > 0) await this.run("drop", () => this.client.hdel(this.chainKey, ...epochs.map(field)));
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }

  private async run<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (cause) {
      throw new StorageError(`redis checkpoints (${this.chainKey}): ${what} failed: ${(cause as Error).message}`, { cause });
    }
  }

  /** EXEC, failing when the transaction or any of its commands failed. */
  private async exec(what: string, multi: ReturnType<Redis["multi"]>): Promise<void> {
    const results = await this.run(what, () => multi.exec());
    const failed = results?.find(([err]) => err !== null);
    if (results === null || failed !== undefined) throw new StorageError(`redis checkpoints (${this.chainKey}): ${what} failed: ${failed?.[0]?.message ?? "transaction aborted"}`);
  }
}

/** What a durability setting means for a job's checkpoints, for its log. */
export function durabilityNote(d: RedisDurability): string {
  switch (d) {
    case "aof-always":
      return "appendfsync always: each checkpoint is on disk when acknowledged";
    case "aof-everysec":
      return "appendfsync everysec: a Redis crash can lose the last second of checkpoints (the job then resumes from an older one)";
    case "aof-no":
      return "appendfsync no: a Redis crash can lose recent checkpoints (the job then resumes from an older one)";
    case "rdb-snapshots":
      return "RDB snapshots only: a Redis crash loses the checkpoints since the last snapshot; set appendonly yes and appendfsync always";
    case "memory-only":
      return "no persistence: a Redis restart loses every checkpoint; set appendonly yes and appendfsync always";
    default:
      return "persistence unknown (CONFIG GET not allowed)";
  }
}

function field(epoch: number): string {
  return String(epoch).padStart(12, "0");
}

function describe(redis: string | RedisOptions): string {
  if (typeof redis !== "string") return `${redis.host ?? "127.0.0.1"}:${redis.port ?? 6379}`;
  try {
    const u = new URL(redis);
    return `${u.protocol}//${u.host}${u.pathname}`; // no password in messages
  } catch {
    return "an unparseable URL";
  }
}

/** appendonly/appendfsync (and save, without AOF), or "unknown" where CONFIG is not allowed (managed Redis). */
async function durabilityOf(client: Redis): Promise<RedisDurability> {
  try {
    const aof = (await client.config("GET", "appendonly")) as string[];
    if (aof[1] !== "yes") {
      const save = (await client.config("GET", "save")) as string[];
      return (save[1] ?? "") === "" ? "memory-only" : "rdb-snapshots";
    }
    const fsync = (await client.config("GET", "appendfsync")) as string[];
    return fsync[1] === "always" ? "aof-always" : fsync[1] === "everysec" ? "aof-everysec" : "aof-no";
  } catch {
    return "unknown";
  }
}
