/**
 * The plan: immutable plain-data nodes built by the DSL. Visitors over these
 * nodes validate, explain and run a pipeline; nothing here knows the DSL.
 */
import type { FieldType, Row, Schema } from "../core/schema.js";
import { DefinitionError } from "../errors.js";

export type { Row };

/** A source dataset: rows arrive from outside (push, files, streams). */
export interface SourceDef {
  readonly name: string;
  readonly schema: Schema;
  /** The event-time field. */
  readonly timestamp: string;
  /** Key fields; empty for an event stream. */
  readonly keys: readonly string[];
  /** Allowed disorder, milliseconds: watermark = max event time seen − lateness. */
  readonly lateness: number;
  /**
   * Milliseconds of processing time without events after which the source
   * stops holding back the joins that read it; undefined: it always does.
   */
  readonly idleTimeout?: number;
  /** false: accepted events are not recorded in the offline history (see DatasetOptions.record). */
  readonly record?: false;
  /** Registry metadata (version, description, owner, tags), recorded by servers. */
  readonly meta?: { readonly version?: number; readonly description?: string; readonly owner?: string; readonly tags?: Readonly<Record<string, string>> };
}

/** Aggregations that read a numeric field (or none, for count). */
export type NumericAggKind = "count" | "sum" | "avg" | "min" | "max" | "stddev" | "variance" | "approxQuantile" | "decayedSum";
/** Aggregations that read a field of any type (the values themselves). */
export type ValueAggKind = "first" | "last" | "firstK" | "lastK" | "distinctCount" | "approxDistinct" | "topK";
export type AggKind = NumericAggKind | ValueAggKind;

export const VALUE_AGG_KINDS: ReadonlySet<AggKind> = new Set<AggKind>(["first", "last", "firstK", "lastK", "distinctCount", "approxDistinct", "topK"]);

/** Parameters some aggregations take (plain numbers, so a plan stays serialisable). */
export interface AggregationParams {
  /** firstK, lastK, topK: how many values. */
  readonly k?: number;
  /** approxQuantile: the quantile in [0, 1]. */
  readonly q?: number;
  /** approxQuantile: relative accuracy of the sketch (DDSketch alpha). */
  readonly accuracy?: number;
  /** approxDistinct: HyperLogLog precision p (2^p registers). */
  readonly precision?: number;
  /** decayedSum: half-life in milliseconds. */
  readonly halfLife?: number;
}

export interface AggregationDef extends AggregationParams {
  readonly kind: AggKind;
  /** Input field; undefined for count(*). */
  readonly field: string | undefined;
  /**
   * Window length in milliseconds. Without `hop` the window is sliding: read
   * at t it covers (t − window, t]; Infinity is the forever window.
   */
  readonly window: number;
  /**
   * Hopping windows (tumbling when hop = window): windows of length `window`
   * start every `hop` ms from the epoch; read at t the value covers the
   * oldest of them still open, from ⌊t / hop⌋·hop + hop − window to t.
   */
  readonly hop?: number;
  /**
   * Session windows: read at t the value covers the key's session open at t,
   * the run of events each at most `gap` ms after the one before, ending with
   * the latest event at or before t; empty when that event is more than
   * `gap` before t. `window` is then Infinity.
   */
  readonly gap?: number;
}

export interface SourceNode {
  readonly kind: "source";
  readonly source: SourceDef;
}
export interface FilterNode {
  readonly kind: "filter";
  readonly input: PlanNode;
  readonly predicate: (row: Row) => boolean;
}
export interface MapNode {
  readonly kind: "map";
  readonly input: PlanNode;
  readonly fn: (row: Row) => Row;
  /** Output schema when the user gave one; unknown otherwise. */
  readonly schema: Schema | undefined;
}
export interface AssignNode {
  readonly kind: "assign";
  readonly input: PlanNode;
  readonly field: string;
  readonly type: FieldType;
  readonly fn: (row: Row) => unknown;
}
export interface SelectNode {
  readonly kind: "select";
  readonly input: PlanNode;
  readonly fields: readonly string[];
}
export interface DropNode {
  readonly kind: "drop";
  readonly input: PlanNode;
  readonly fields: readonly string[];
}
export interface RenameNode {
  readonly kind: "rename";
  readonly input: PlanNode;
  /** Old field name → new field name. */
  readonly mapping: Readonly<Record<string, string>>;
}
export interface DropNullNode {
  readonly kind: "dropNull";
  readonly input: PlanNode;
  /** Rows with null (or missing) values in these fields are dropped; empty: in any field. */
  readonly fields: readonly string[];
}
export interface ExplodeNode {
  readonly kind: "explode";
  readonly input: PlanNode;
  /** An array field: each element becomes a row, with the other fields and the event time copied. */
  readonly field: string;
}
export interface DedupNode {
  readonly kind: "dedup";
  readonly input: PlanNode;
  /** Rows with equal values of these fields are duplicates (empty: all fields). */
  readonly by: readonly string[];
  /** A row is dropped when the latest kept row with the same values is less than this many ms away in event time. */
  readonly window: number;
}
export interface AggregateNode {
  readonly kind: "aggregate";
  readonly input: PlanNode;
  readonly keys: readonly string[];
  readonly aggregations: Readonly<Record<string, AggregationDef>>;
}

/**
 * A temporal lookup join: each row of the input stream is joined with the
 * keyed dataset's latest row at or before the row's event time (optionally
 * no older than `within`). Inner joins drop rows with no match; left joins
 * keep them with nulls.
 */
export interface JoinNode {
  readonly kind: "join";
  readonly input: PlanNode;
  /** The keyed source dataset looked up. */
  readonly right: SourceDef;
  /** Input fields holding the right's key values, in the order of right.keys. */
  readonly on: readonly string[];
  /** Right fields brought over, and their names in the output. */
  readonly fields: ReadonlyArray<{ readonly from: string; readonly as: string }>;
  readonly how: "inner" | "left";
  /** Only right rows at most this many ms older than the input row; undefined: any age. */
  readonly within: number | undefined;
}

/**
 * An interval join of two streams: each pair of a left row at time l and a
 * right row at time r with the same key values and l − lower <= r <= l + upper
 * becomes one row (the left's fields plus the right's), at event time
 * max(l, r), when the later of the two is known.
 */
export interface IntervalJoinNode {
  readonly kind: "intervalJoin";
  readonly input: PlanNode;
  readonly other: PlanNode;
  /** Left fields and the right fields they must equal, pairwise. */
  readonly on: readonly string[];
  readonly otherOn: readonly string[];
  /** Milliseconds: the right row may be up to `lower` before and `upper` after the left one. */
  readonly lower: number;
  readonly upper: number;
  /** Right fields brought over, and their names in the output. */
  readonly fields: ReadonlyArray<{ readonly from: string; readonly as: string }>;
}

/** The rows of two streams of the same schema, as one stream. */
export interface UnionNode {
  readonly kind: "union";
  readonly input: PlanNode;
  readonly other: PlanNode;
}

/** What a custom operator's function returns for one input: rows, one row, or nothing. */
export type OperatorResult = Row | readonly Row[] | null | undefined;

/**
 * A user operator per key (ralf's Operator.on_record): called with each
 * record, or with each count window of records, of a key, in order; its
 * outputs make the table's values (the latest output per key is current).
 */
export interface OperatorNode {
  readonly kind: "operator";
  readonly input: PlanNode;
  readonly keys: readonly string[];
  /** Count window: each key's last `size` records, every `slide` records. Undefined: every record alone. */
  readonly countWindow: { readonly size: number; readonly slide: number } | undefined;
  readonly fn: (input: unknown, key: Row) => OperatorResult | Promise<OperatorResult>;
  readonly output: Schema;
  /** Keys processed at the same time, at most (each key's inputs always in order). */
  readonly concurrency: number;
  /** ralf's processing policy (`.policy({...})`): applies to online pushes only; replays compute every input. */
  readonly policy?: PolicyDef;
}

/** How a policy table picks the next pending update to compute (see docs/policies.md). */
export type ScheduleKind =
  | "fifo"
  | "lifo"
  | "key-lifo"
  | "round-robin"
  | "least-recently-updated"
  | "max-staleness"
  | "query-weighted"
  | "cumulative-error";

/** Whether an arriving update is worth queueing at all. */
export type ShedDef =
  | { readonly kind: "never" }
  /** Keeps each update with probability p, drawing from `random` (a seeded PRNG when none is given). */
  | { readonly kind: "sample"; readonly p: number; readonly seed: number; readonly random: (() => number) | undefined }
  /** Keeps an update when |value(update) − value(the key's last kept update)| > threshold. */
  | { readonly kind: "moved"; readonly threshold: number; readonly value: (pending: unknown) => number }
  /** Keeps an update when its key was read since its last computed update (or was never computed). */
  | { readonly kind: "queried" };

/** A custom operator table's processing policy, as plain data plus the user's functions. */
export interface PolicyDef {
  readonly schedule: ScheduleKind;
  /** Pending updates kept at most; arrivals beyond it are dropped (or the oldest, for LIFO). */
  readonly queue: number;
  /** cumulative-error: how wrong the key's current output is given one pending input. */
  readonly error: ((current: Row | null, pending: unknown) => number) | undefined;
  readonly shed: ShedDef;
  /**
   * perSecond: updates computed per second of the store's clock, up to
   * `burst` at once. concurrency: operator calls at once, in the background.
   * Neither: everything queued is computed at each push.
   */
  readonly budget: { readonly perSecond: number | undefined; readonly burst: number; readonly concurrency: number | undefined };
}

/** Row-to-row steps between a source and an aggregate (dedup keeps state; the others are stateless). */
export type StepNode = FilterNode | MapNode | AssignNode | SelectNode | DropNode | RenameNode | DropNullNode | ExplodeNode | DedupNode;
export type PlanNode = SourceNode | StepNode | AggregateNode | OperatorNode | JoinNode | UnionNode | IntervalJoinNode;

/** A named, keyed feature table derived from one source by a pipeline. */
export interface TableDef {
  readonly name: string;
  readonly root: AggregateNode;
}

/** A named table whose values a custom operator computes. */
export interface OperatorTableDef {
  readonly name: string;
  readonly root: OperatorNode;
}

/** Walks from a node down to its source. */
export function sourceOf(node: PlanNode): SourceDef {
  let cur: PlanNode = node;
  while (cur.kind !== "source") cur = cur.input;
  return cur.source;
}

/**
 * A table's pipeline: the steps before its join (all of them without one),
 * the join, the steps after. With a union, `branches` are the merged
 * streams, each from its source through its own steps, and `post` the steps
 * after the union.
 */
export interface Pipeline {
  readonly pre: StepNode[];
  readonly join: JoinNode | undefined;
  readonly post: StepNode[];
  readonly branches: ReadonlyArray<{ readonly source: SourceDef; readonly steps: StepNode[] }> | undefined;
  /** With an interval join: the join; `branches` are then its left and right streams. */
  readonly interval: IntervalJoinNode | undefined;
}

/** The chain from a node down to its source, in execution order. */
type ChainNode = StepNode | JoinNode | UnionNode | IntervalJoinNode;

function chainOf(node: PlanNode, root: PlanNode): ChainNode[] {
  const chain: ChainNode[] = [];
  let cur: PlanNode = node;
  while (cur.kind !== "source") {
    if (cur.kind === "aggregate" || cur.kind === "operator") {
      if (chain.length > 0 || cur !== root) {
        throw new DefinitionError("a table cannot read from another table yet: one table reads from one source dataset");
      }
    } else {
      chain.push(cur);
    }
    cur = cur.input;
  }
  return chain.reverse();
}

/** Splits the chain between a source and a table's root at its join or union (one per table). */
export function pipelineOf(root: PlanNode): Pipeline {
  const chain = chainOf(root, root);
  const isStep = (n: ChainNode): n is StepNode => n.kind !== "join" && n.kind !== "union" && n.kind !== "intervalJoin";
  const steps = (part: ChainNode[]): StepNode[] => part.filter(isStep);
  const special = chain.filter((n) => !isStep(n));
  if (special.length > 0 && special.every((n) => n.kind === "union")) {
    // Unions only (nested too): one branch per stream merged, the steps between unions copied into each.
    const outer = special[special.length - 1] as UnionNode;
    const branches = unionBranches(outer);
    return { pre: (branches[0] as Branch).steps, join: undefined, post: steps(chain.slice(chain.indexOf(outer) + 1)), branches, interval: undefined };
  }
  if (special.length > 1) throw new DefinitionError("a table's pipeline may have one join or one union, not several, in this version");
  const two = special[0];
  if (two !== undefined && (two.kind === "union" || two.kind === "intervalJoin")) {
    const at = chain.indexOf(two);
    const other = chainOf(two.other, root);
    if (other.some((n) => !isStep(n))) throw new DefinitionError("a table's pipeline may have one join or one union, not several, in this version");
    return {
      pre: steps(chain.slice(0, at)),
      join: undefined,
      post: steps(chain.slice(at + 1)),
      branches: [
        { source: sourceOf(two.input), steps: steps(chain.slice(0, at)) },
        { source: sourceOf(two.other), steps: steps(other) },
      ],
      interval: two.kind === "intervalJoin" ? two : undefined,
    };
  }
  const at = chain.findIndex((n) => n.kind === "join");
  const join = two?.kind === "join" ? two : undefined;
  return at < 0
    ? { pre: steps(chain), join: undefined, post: [], branches: undefined, interval: undefined }
    : { pre: steps(chain.slice(0, at)), join, post: steps(chain.slice(at + 1)), branches: undefined, interval: undefined };
}

type Branch = { readonly source: SourceDef; readonly steps: StepNode[] };

/**
 * The streams a union (of unions) merges: each from its source through its
 * own steps and the steps after the inner unions it passes. A dedup after an
 * inner union would see each stream alone, so it is refused there.
 */
export function unionBranches(node: PlanNode): Branch[] {
  switch (node.kind) {
    case "source":
      return [{ source: node.source, steps: [] }];
    case "union":
      return [...unionBranches(node.input), ...unionBranches(node.other)];
    case "join":
    case "intervalJoin":
      throw new DefinitionError("a table's pipeline may have one join or one union, not several, in this version");
    case "aggregate":
    case "operator":
      throw new DefinitionError("a table cannot read from another table yet: one table reads from one source dataset");
    default: {
      const inner = unionBranches(node.input);
      if (node.kind === "dedup" && inner.length > 1) {
        throw new DefinitionError("dedup between two unions is not supported: dedup after the last union, or in each stream before it");
      }
      return inner.map((b) => ({ source: b.source, steps: [...b.steps, node] }));
    }
  }
}

/** The row steps between the source and a node, in execution order (a join is refused: see pipelineOf). */
export function stepChain(node: PlanNode): StepNode[] {
  const p = pipelineOf(node);
  if (p.join !== undefined || p.branches !== undefined) {
    throw new DefinitionError(`a join or union is not supported here: they feed aggregate tables (groupBy(...).aggregate(...))`);
  }
  return p.pre;
}
