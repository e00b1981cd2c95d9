import type { AggregateNode, Row, TableDef } from "../plan/nodes.js";

/** A named feature table: key fields Keys, feature values Features. */
export class Table<Name extends string, Keys extends Row, Features extends Row> implements TableDef {
  declare readonly __keys: Keys;
  declare readonly __features: Features;

  constructor(
    readonly name: Name,
    readonly root: AggregateNode,
  ) {}
}

export type AnyTable = Table<string, Row, Row>;

/** One online row of a table: its keys, then its features. */
export type TableRow<T> = T extends Table<string, infer K, infer F> ? K & F : never;
export type TableKeys<T> = T extends Table<string, infer K, Row> ? K : never;
