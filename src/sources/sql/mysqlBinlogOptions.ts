import { randomInt } from "node:crypto";
import { mysqlAddress } from "../../core/databaseUrl.js";
import { DefinitionError } from "../../errors.js";

export interface MysqlBinlogSourceOptions {
  /** mysql://user:password@host:3306/database; the user needs REPLICATION SLAVE, REPLICATION CLIENT and SELECT. */
  readonly url: string;
  /** The table whose changes are read. */
  readonly table: string;
  /** Its database (default: the URL's). */
  readonly schema?: string;
  /** The columns each row carries (default: all, in table order). */
  readonly columns?: readonly string[];
  /** On a first open, hand out the rows the table holds before its changes (default true; needs an integer primary key and MariaDB). */
  readonly snapshot?: boolean;
  /** An UPDATE's new row as a row of its own ("emit", default), or nothing ("skip"). */
  readonly updates?: "emit" | "skip";
  /** A DELETE as nothing ("skip", default, counted in `changes()`), or the deleted row as a row ("emit"). */
  readonly deletes?: "skip" | "emit";
  /** Adds this field to each row: "snapshot", "insert", "update" or "delete". */
  readonly operationField?: string;
  /** Rows per snapshot query; binlog rows held in memory before reading pauses is twice this (default 10,000). */
  readonly batch?: number;
  /** Timestamp and date columns as Dates (default), ISO-8601 text or epoch ms. */
  readonly timestamps?: "date" | "iso" | "ms";
  /** DECIMAL columns as exact text instead of numbers (default false). */
  readonly decimalsAsText?: boolean;
  /** The replica id this reader gives the server; unique among its replicas (default: random in 2^20..2^31). */
  readonly serverId?: number;
}

const DEFAULT_BATCH = 10_000;

/** The options with their defaults filled in, checked. */
export interface Checked extends Required<Pick<MysqlBinlogSourceOptions, "url" | "table" | "snapshot" | "updates" | "deletes" | "batch" | "timestamps" | "decimalsAsText" | "serverId">> {
  readonly schema: string | undefined;
  readonly columns: readonly string[] | undefined;
  readonly operationField: string | undefined;
  readonly address: string;
}

/** Checks the options; a bad one throws a DefinitionError naming it. */
export function checkOptions(o: MysqlBinlogSourceOptions): Checked {
  const fail = (field: string, what: string): never => {
    throw new DefinitionError(`mysqlBinlogSource: ${field} ${what}`, { field });
  };
  const named = (field: string, v: unknown): string => {
    if (typeof v !== "string" || v === "" || v.includes("\0")) fail(field, `must be a non-empty name, got ${JSON.stringify(v)}`);
    return v as string;
  };
  const oneOf = <T extends string>(field: string, v: T | undefined, allowed: readonly T[], fallback: T): T => {
    if (v === undefined) return fallback;
    if (!allowed.includes(v)) fail(field, `must be ${allowed.map((a) => JSON.stringify(a)).join(" or ")}, got ${JSON.stringify(v)}`);
    return v;
  };
  if (typeof o.url !== "string") fail("url", "must be a mysql:// URL");
  const address = mysqlAddress(o.url);
  const batch = o.batch ?? DEFAULT_BATCH;
  if (!Number.isSafeInteger(batch) || batch < 1 || batch > 1_000_000) fail("batch", `must be a whole number from 1 to 1,000,000, got ${String(o.batch)}`);
  const serverId = o.serverId ?? randomInt(2 ** 20, 2 ** 31);
  if (!Number.isSafeInteger(serverId) || serverId < 1 || serverId >= 2 ** 32) fail("serverId", `must be a whole number from 1 to 2^32 - 1, got ${String(o.serverId)}`);
  if (o.columns !== undefined && (!Array.isArray(o.columns) || o.columns.length === 0)) fail("columns", "must name at least one column when given");
  o.columns?.forEach((c) => named("columns", c));
  if (o.snapshot !== undefined && typeof o.snapshot !== "boolean") fail("snapshot", `must be true or false, got ${JSON.stringify(o.snapshot)}`);
  return {
    url: o.url,
    address,
    table: named("table", o.table),
    schema: o.schema === undefined ? undefined : named("schema", o.schema),
    columns: o.columns,
    snapshot: o.snapshot ?? true,
    updates: oneOf("updates", o.updates, ["emit", "skip"], "emit"),
    deletes: oneOf("deletes", o.deletes, ["skip", "emit"], "skip"),
    operationField: o.operationField === undefined ? undefined : named("operationField", o.operationField),
    batch,
    timestamps: oneOf("timestamps", o.timestamps, ["date", "iso", "ms"], "date"),
    decimalsAsText: o.decimalsAsText ?? false,
    serverId,
  };
}
