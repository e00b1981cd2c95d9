import type { AggregateNode, OperatorNode, OperatorTableDef, Row, TableDef } from "../plan/nodes.js";

/** A named feature table: key fields Keys, feature values Features. */
export class Table<Name extends string, Keys extends Row, Features extends Row> implements TableDef {
  declare readonly __keys: Keys;
  declare readonly __features: Features;

  constructor(
    readonly name: Name,
    readonly root: AggregateNode,
  ) {}
}

/** A named table whose values a custom operator computes: the latest output row per key. */
export class OperatorTable<Name extends string, Keys extends Row, Features extends Row> implements OperatorTableDef {
  declare readonly __keys: Keys;
  declare readonly __features: Features;

  constructor(
    readonly name: Name,
    readonly root: OperatorNode,
  ) {}
}

export type AnyTable = Table<string, Row, Row> | OperatorTable<string, Row, Row>;

/** One online row of a table: its keys, then its features. */
export type TableRow<T> = T extends { readonly __keys: infer K; readonly __features: infer F } ? K & F : never;
export type TableKeys<T> = T extends { readonly __keys: infer K } ? K : never;
