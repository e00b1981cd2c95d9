import { hasBrand, OPERATOR_TABLE_BRAND, TABLE_BRAND } from "../core/brand.js";
import type { AggregateNode, OperatorNode, OperatorTableDef, Row, TableDef } from "../plan/nodes.js";
import { parseDuration, type Duration } from "../core/duration.js";
import { DefinitionError } from "../errors.js";

/**
 * What the registry records about a table beside its shape. Changing a key's
 * type is refused by the registry unless `version` is raised.
 */
export interface TableMeta {
  /** Default 1. */
  readonly version?: number;
  readonly description?: string;
  readonly owner?: string;
  readonly tags?: Readonly<Record<string, string>>;
  /** Served values older than this (since the key's latest event) read as null with status OUTSIDE_MAX_AGE. */
  readonly ttl?: Duration;
}

/** Checks a table's metadata at definition time, so a bad version or TTL never reaches a server. */
export function checkTableMeta(table: string, meta: TableMeta): TableMeta {
  if (typeof meta !== "object" || meta === null) throw new DefinitionError(`table "${table}": the second argument of .as() is metadata ({ version, description, owner, tags, ttl })`);
  if (meta.version !== undefined && !(Number.isInteger(meta.version) && meta.version >= 1)) {
    throw new DefinitionError(`table "${table}": version must be a whole number >= 1, got ${String(meta.version)}`, { field: "version" });
  }
  if (meta.ttl !== undefined) parseDuration(meta.ttl);
  for (const [k, v] of Object.entries(meta.tags ?? {})) {
    if (typeof v !== "string") throw new DefinitionError(`table "${table}": tag "${k}" must be a string`, { field: "tags" });
  }
  return meta;
}

/** A named feature table: key fields Keys, feature values Features. */
export class Table<Name extends string, Keys extends Row, Features extends Row> implements TableDef {
  readonly [TABLE_BRAND] = true as const;
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, TABLE_BRAND);
  }

  declare readonly __keys: Keys;
  declare readonly __features: Features;

  constructor(
    readonly name: Name,
    readonly root: AggregateNode,
    readonly meta: TableMeta = {},
  ) {}
}

/** A named table whose values a custom operator computes: the latest output row per key. */
export class OperatorTable<Name extends string, Keys extends Row, Features extends Row> implements OperatorTableDef {
  readonly [OPERATOR_TABLE_BRAND] = true as const;
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, OPERATOR_TABLE_BRAND);
  }

  declare readonly __keys: Keys;
  declare readonly __features: Features;

  constructor(
    readonly name: Name,
    readonly root: OperatorNode,
    readonly meta: TableMeta = {},
  ) {}
}

export type AnyTable = Table<string, Row, Row> | OperatorTable<string, Row, Row>;

/** One online row of a table: its keys, then its features. */
export type TableRow<T> = T extends { readonly __keys: infer K; readonly __features: infer F } ? K & F : never;
export type TableKeys<T> = T extends { readonly __keys: infer K } ? K : never;
