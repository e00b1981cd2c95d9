/**
 * Field types of a dataset schema. A schema is a plain object of field types;
 * row types are inferred from it so users never write a type twice.
 */
export type FieldKind = "string" | "float" | "int" | "bool" | "timestamp";

export interface FieldType<K extends FieldKind = FieldKind, N extends boolean = boolean> {
  readonly kind: K;
  readonly nullable: N;
}

export interface FieldBuilder<K extends FieldKind> extends FieldType<K, false> {
  /** The same type, allowing `null` (and missing) values. */
  optional(): FieldType<K, true>;
}

function field<K extends FieldKind>(kind: K): FieldBuilder<K> {
  return Object.freeze({
    kind,
    nullable: false as const,
    optional: () => Object.freeze({ kind, nullable: true as const }),
  });
}

/** Field type constructors: `t.string()`, `t.float()`, `t.int()`, `t.bool()`, `t.timestamp()`. */
export const t = {
  string: (): FieldBuilder<"string"> => field("string"),
  float: (): FieldBuilder<"float"> => field("float"),
  int: (): FieldBuilder<"int"> => field("int"),
  bool: (): FieldBuilder<"bool"> => field("bool"),
  /** Event or other instants. Inside pipelines a timestamp is epoch milliseconds, UTC. */
  timestamp: (): FieldBuilder<"timestamp"> => field("timestamp"),
} as const;

export type Schema = Readonly<Record<string, FieldType>>;

/** A row as it flows through the engine: field name to value. */
export type Row = Record<string, unknown>;

interface KindToType {
  string: string;
  float: number;
  int: number;
  bool: boolean;
  timestamp: number;
}

export type ValueOf<F extends FieldType> = F extends FieldType<infer K, infer N>
  ? N extends true
    ? KindToType[K] | null
    : KindToType[K]
  : never;

/** The row type a schema describes, as pipeline functions see it. */
export type RowOf<S extends Schema> = { -readonly [F in keyof S]: ValueOf<S[F]> };

/** Field names of a row whose values are numbers (possibly null). */
export type NumericFields<R> = {
  [F in keyof R & string]: R[F] extends number | null ? (number extends R[F] ? F : never) : never;
}[keyof R & string];

/** Field names usable as grouping keys (strings, numbers, booleans). */
export type KeyableFields<R> = {
  [F in keyof R & string]: R[F] extends string | number | boolean ? F : never;
}[keyof R & string];

export type Simplify<T> = { [K in keyof T]: T[K] } & {};

export function isFieldType(value: unknown): value is FieldType {
  if (typeof value !== "object" || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return kind === "string" || kind === "float" || kind === "int" || kind === "bool" || kind === "timestamp";
}
