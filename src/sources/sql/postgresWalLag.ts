import { openPostgresClient } from "./postgresTableSource.js";
import { formatLsn } from "./replicationPosition.js";
import type { Sql } from "./replicationSetup.js";

/**
 * Measures how many bytes of WAL the server wrote after an LSN, for the
 * logical replication source's `lagBytes`.
 *
 * It queries on a connection of its own, opened at the first measure and kept
 * until `close`: the source's client holds the snapshot's transaction, where a
 * failed query would abort the snapshot, and the replication connection
 * cannot run SQL functions.
 */
export class WalLagProbe {
  private sql: Sql | undefined;

  constructor(private readonly url: string) {}

  /**
   * Bytes from `lsn` to the end of the WAL the server has inserted; 0 when it
   * does not reach past `lsn`. The insert LSN, not pg_current_wal_lsn() (the
   * write LSN): under synchronous_commit = off the write LSN trails committed
   * transactions by up to three wal_writer_delay, and would show no lag while
   * their changes wait.
   */
  async bytesAfter(lsn: bigint): Promise<number> {
    this.sql ??= openPostgresClient(this.url, false, { applicationName: "freshet replication lag" });
    const rows = await this.sql<Array<{ bytes: string }>>`SELECT greatest(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), ${formatLsn(lsn)}::pg_lsn), 0)::text AS bytes`;
    return Number(rows[0]?.bytes ?? "0");
  }

  async close(): Promise<void> {
    const sql = this.sql;
    this.sql = undefined;
    if (sql !== undefined) await sql.end({ timeout: 5 });
  }
}
