import type { RowOf, Schema, Simplify } from "../core/schema.js";
import { isFieldType } from "../core/schema.js";
import { DefinitionError } from "../errors.js";
import type { OperatorNode, OperatorResult, PlanNode, Row } from "../plan/nodes.js";
import { checkTableMeta, OperatorTable, type TableMeta } from "./table.js";
import { policyDef, type PolicyOptions } from "./policy.js";

/** What an operator may return for one input: a row, several, or nothing; possibly later (a Promise). */
export type OperatorOutput<O> = O | readonly O[] | null | undefined;

/**
 * A custom operator (ralf's `Operator.on_record`): `onRecord` gets one input
 * of a key (a record, or a count window of records) and returns the key's
 * new output rows. It may be async, e.g. to call a model.
 */
export abstract class Operator<I, O extends Row> {
  abstract onRecord(input: I, key: Row): OperatorOutput<O> | Promise<OperatorOutput<O>>;
}

export type OperatorFn<I, O extends Row> = (input: I, key: Row) => OperatorOutput<O> | Promise<OperatorOutput<O>>;

/** An Operator instance, an Operator class with a no-argument constructor, or a plain function. */
export type OperatorLike<I, O extends Row> = Operator<I, O> | (new () => Operator<I, O>) | OperatorFn<I, O>;

export interface ApplyOptions<S extends Schema> {
  /** The fields each output row has (checked on every output). */
  readonly output: S;
  /** Keys processed at once, at most (default 1); a key's inputs are always handled in order. */
  readonly concurrency?: number;
}

function toFunction<I, O extends Row>(op: OperatorLike<I, O>): (input: unknown, key: Row) => OperatorResult | Promise<OperatorResult> {
  if (op instanceof Operator) return (input, key) => op.onRecord(input as I, key);
  if (typeof op === "function" && op.prototype instanceof Operator) {
    const instance = new (op as new () => Operator<I, O>)();
    return (input, key) => instance.onRecord(input as I, key);
  }
  if (typeof op === "function") return op as (input: unknown, key: Row) => OperatorResult | Promise<OperatorResult>;
  throw new DefinitionError("apply(): pass an Operator, an Operator class or a function", { field: "operator" });
}

function operatorNode<S extends Schema>(
  input: PlanNode,
  keys: readonly string[],
  countWindow: OperatorNode["countWindow"],
  op: OperatorLike<never, Row>,
  options: ApplyOptions<S>,
): OperatorNode {
  if (typeof options !== "object" || options === null || typeof options.output !== "object" || options.output === null) {
    throw new DefinitionError("apply(): options { output: { field: t.float(), ... } } are required", { field: "output" });
  }
  const fields = Object.entries(options.output);
  if (fields.length === 0) throw new DefinitionError("apply(): the output needs at least one field", { field: "output" });
  for (const [f, ft] of fields) {
    if (!isFieldType(ft)) throw new DefinitionError(`apply(): output field "${f}" is not a field type; use t.float(), ...`, { field: f });
    if (keys.includes(f)) throw new DefinitionError(`apply(): output field "${f}" has the name of a key field`, { field: f });
  }
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new DefinitionError(`apply(): "concurrency" must be a whole number >= 1, got ${String(concurrency)}`, { field: "concurrency" });
  }
  return { kind: "operator", input, keys: [...keys], countWindow, fn: toFunction(op), output: options.output, concurrency };
}

/** A table row of an operator's output: every field reads null until the key's first output. */
export type OutputRow<S extends Schema> = Simplify<{ [K in keyof RowOf<S>]: RowOf<S>[K] | null }>;

/** A keyed stream waiting for its operator: `.apply(op, { output }).as(name)`. */
export class OperatorStage<In, Keys extends Row> {
  constructor(
    private readonly input: PlanNode,
    private readonly keys: readonly string[],
    private readonly countWindow: OperatorNode["countWindow"],
  ) {}

  /** Runs `op` on each input of each key; its output rows become the table's values. */
  apply<S extends Schema>(op: OperatorLike<In, RowOf<S>>, options: ApplyOptions<S>): NamedOperator<Keys, OutputRow<S>, In, RowOf<S>> {
    return new NamedOperator(operatorNode(this.input, this.keys, this.countWindow, op as OperatorLike<never, Row>, options));
  }
}

/** An operator table's definition before its name: name it with `.as(name)`, after `.policy({...})` if it needs one. */
export class PolicedOperator<Keys extends Row, Out extends Row> {
  constructor(readonly node: OperatorNode) {}

  /** Names the table; the latest output of each key is its current value. */
  as<Name extends string>(name: Name, meta: TableMeta = {}): OperatorTable<Name, Keys, Out> {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new DefinitionError(`table name "${name}" must be an identifier (letters, digits, _)`);
    return new OperatorTable(name, this.node, checkTableMeta(name, meta));
  }
}

/** `In`: the operator's input (a record or a count window); `Current`: one output row, as the operator returns it. */
export class NamedOperator<Keys extends Row, Out extends Row, In = unknown, Current extends Row = Row> extends PolicedOperator<Keys, Out> {
  /**
   * ralf's processing policy for online pushes: a bounded queue of pending
   * inputs, the order they are computed in, which are shed, and the budget.
   * Replays still compute every input. Returns a new definition (this one is
   * unchanged); a table has one policy, so the result only has `.as(name)`.
   */
  policy(options: PolicyOptions<In, Current>): PolicedOperator<Keys, Out> {
    return new PolicedOperator({ ...this.node, policy: policyDef(options) });
  }
}

/** Count windows in the style of ralf: `size` records, every `slide` records (default: size, i.e. tumbling). */
export function countWindowOf(options: { readonly size: number; readonly slide?: number }): { size: number; slide: number } {
  const size = options?.size;
  const slide = options?.slide ?? size;
  if (!Number.isInteger(size) || size < 1) throw new DefinitionError(`window: "size" must be a whole number >= 1, got ${String(size)}`, { field: "size" });
  if (!Number.isInteger(slide) || slide < 1) throw new DefinitionError(`window: "slide" must be a whole number >= 1, got ${String(slide)}`, { field: "slide" });
  return { size, slide };
}
