import { createPool, type Pool, type RowDataPacket } from "mysql2/promise";
import type { BinlogPoint } from "./binlogPosition.js";
import { mysqlConnectionOptions } from "./mysqlTableSource.js";

/** One binary log file as SHOW BINARY LOGS lists it. */
export interface BinlogFile {
  readonly name: string;
  readonly size: number;
}

/**
 * Bytes of the binary log after `at`: the rest of its file and every file
 * listed after it (the listing is in the server's index order, oldest first).
 * Undefined when the server no longer lists `at`'s file (purged: the read
 * fails on its own, and how much the purged files held is unknown).
 */
export function binlogBytesAfter(files: readonly BinlogFile[], at: BinlogPoint): number | undefined {
  const i = files.findIndex((f) => f.name === at.file);
  const file = files[i];
  if (file === undefined) return undefined;
  let bytes = Math.max(0, file.size - at.pos);
  for (const later of files.slice(i + 1)) bytes += later.size;
  return bytes;
}

/**
 * Measures the binlog source's `lagBytes` on a connection of its own (the
 * source's others hold the snapshot's transaction or stream the binlog): a
 * pool of one, so a connection the server closed while idle is replaced, and
 * one left idle for a minute is closed.
 */
export class BinlogLagProbe {
  private pool: Pool | undefined;

  constructor(
    private readonly url: string,
    private readonly decimalsAsText: boolean,
  ) {}

  async bytesAfter(at: BinlogPoint): Promise<number | undefined> {
    this.pool ??= createPool({ ...mysqlConnectionOptions(this.url, this.decimalsAsText), connectionLimit: 1, maxIdle: 0, idleTimeout: 60_000 });
    const [rows] = await this.pool.query<RowDataPacket[]>("SHOW BINARY LOGS");
    return binlogBytesAfter(
      rows.map((r) => ({ name: String(r.Log_name), size: Number(r.File_size) })),
      at,
    );
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool !== undefined) await pool.end();
  }
}
