import { postgresAddress } from "../../core/databaseUrl.js";
import { DefinitionError } from "../../errors.js";

/** Options of postgresReplicationSource (docs/sources-sql.md, "PostgreSQL logical replication"). */
export interface PostgresReplicationSourceOptions {
  /** postgres://user@host:5432/database; the user needs the REPLICATION attribute (or superuser). */
  readonly url: string;
  /** The table to follow, by its name in the database, unquoted. It needs a primary key. */
  readonly table: string;
  /** Its schema; the connection's current one when omitted. */
  readonly schema?: string;
  /** The durable replication slot this reader owns (lower-case letters, digits, _). One slot per job. */
  readonly slot: string;
  /** The publication to stream (default `freshet_<slot>`); created for the table when missing. */
  readonly publication?: string;
  /** The columns each row carries (default: all of them, in table order). */
  readonly columns?: readonly string[];
  /**
   * Hand out the rows already in the table first (default true). false: only
   * changes; an open without a position then reads from what the slot kept
   * (from its confirmed position) when it exists, else from the slot's creation.
   */
  readonly snapshot?: boolean;
  /** An UPDATE as its after-image, a new row (default "emit"), or not at all ("skip"). */
  readonly updates?: "emit" | "skip";
  /** A DELETE as the deleted row ("emit", needs `operationField`), or not at all (default "skip"). */
  readonly deletes?: "emit" | "skip";
  /** A field added to every row with "snapshot", "insert", "update" or "delete" (default: none). */
  readonly operationField?: string;
  /** Timestamp and date columns as Dates (default), ISO-8601 text or epoch ms. */
  readonly timestamps?: "date" | "iso" | "ms";
  /** NUMERIC columns as exact text instead of numbers (default false). */
  readonly decimalsAsText?: boolean;
  /** Most rows one snapshot query fetches (default 10,000). */
  readonly batch?: number;
  /** Drop the slot in close() (tests; default false: the slot keeps the changes for the next open). */
  readonly dropSlotOnClose?: boolean;
}

export interface CheckedReplicationOptions extends PostgresReplicationSourceOptions {
  readonly address: string;
  readonly publication: string;
  readonly batch: number;
}

/** Checks the options; throws a DefinitionError naming the bad one. */
export function checkReplicationOptions(o: PostgresReplicationSourceOptions): CheckedReplicationOptions {
  const fail = (field: string, what: string): never => {
    throw new DefinitionError(`postgresReplicationSource: ${field} ${what}`, { field });
  };
  const address = postgresAddress(o.url);
  const named = (field: string, v: unknown): void => {
    if (typeof v !== "string" || v === "" || v.includes("\0")) fail(field, `must be a non-empty name, got ${JSON.stringify(v)}`);
  };
  named("table", o.table);
  if (o.schema !== undefined) named("schema", o.schema);
  // Slot and publication names travel unquoted in replication commands and options.
  const ident = /^[a-z_][a-z0-9_]{0,62}$/;
  if (typeof o.slot !== "string" || !ident.test(o.slot)) fail("slot", `must be 1 to 63 lower-case letters, digits or _ (not starting with a digit), got ${JSON.stringify(o.slot)}`);
  const publication = o.publication ?? `freshet_${o.slot}`.slice(0, 63);
  if (!ident.test(publication)) fail("publication", `must be 1 to 63 lower-case letters, digits or _ (not starting with a digit), got ${JSON.stringify(o.publication)}`);
  if (o.columns !== undefined) {
    if (o.columns.length === 0) fail("columns", "when given, must name at least one column");
    o.columns.forEach((c) => named("each column", c));
  }
  const oneOf = (field: string, v: unknown, allowed: readonly string[]): void => {
    if (v !== undefined && !allowed.includes(v as string)) fail(field, `must be ${allowed.map((a) => JSON.stringify(a)).join(" or ")}, got ${JSON.stringify(v)}`);
  };
  oneOf("updates", o.updates, ["emit", "skip"]);
  oneOf("deletes", o.deletes, ["emit", "skip"]);
  oneOf("timestamps", o.timestamps, ["date", "iso", "ms"]);
  if (o.operationField !== undefined) named("operationField", o.operationField);
  if (o.deletes === "emit" && o.operationField === undefined) fail("deletes", '"emit" needs operationField, or a deleted row would read as an inserted one');
  const batch = o.batch ?? 10_000;
  if (!Number.isSafeInteger(batch) || batch < 1) fail("batch", `must be a whole number >= 1, got ${String(o.batch)}`);
  return { ...o, address, publication, batch };
}
