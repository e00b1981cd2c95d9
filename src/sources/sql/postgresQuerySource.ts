import postgres from "postgres";
import { postgresAddress } from "../../core/databaseUrl.js";
import { SourceError } from "../../errors.js";
import { batchSizeOption, type RowSource } from "../rowSource.js";

export interface PostgresQueryOptions {
  /** postgres://user@host:5432/database */
  readonly url: string;
  /** A SELECT; `$1`, `$2`, ... take `params`. */
  readonly query: string;
  readonly params?: ReadonlyArray<string | number | boolean | Date | null>;
  /** Rows per batch, fetched through a cursor (default 65,536). */
  readonly batchSize?: number;
}

/**
 * The rows of a PostgreSQL query as a source (entity rows of a training set,
 * history for a backfill), fetched through a server-side cursor in batches so
 * a large result never sits in memory at once. Timestamps arrive as Dates,
 * bigint and numeric columns as text (the driver's choice: exact values).
 */
export function postgresQuerySource(o: PostgresQueryOptions): RowSource {
  const batchSize = batchSizeOption("postgresQuerySource", o.batchSize);
  const address = postgresAddress(o.url);
  return {
    kind: "postgres",
    description: `PostgreSQL ${address}: ${o.query.length > 80 ? `${o.query.slice(0, 80)}…` : o.query}`,
    text: false,
    async *batches() {
      const sql = postgres(o.url, { max: 1, connect_timeout: 10, onnotice: () => undefined });
      try {
        const cursor = sql.unsafe(o.query, [...(o.params ?? [])] as postgres.ParameterOrJSON<never>[]).cursor(batchSize);
        for await (const rows of cursor) yield rows.map((r) => ({ ...r }));
      } catch (cause) {
        throw new SourceError(`PostgreSQL query at ${address} failed: ${(cause as Error).message}`, {}, { cause });
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}
