/**
 * ralf's processing policies, typed: what an operator table computes when
 * its inputs arrive faster than its budget allows. Written
 * `.apply(op, { output }).policy({ ... }).as(name)`; see docs/policies.md
 * for each schedule and predicate and when to pick it.
 */
import { DefinitionError } from "../errors.js";
import type { PolicyDef, Row, ScheduleKind, ShedDef } from "../plan/nodes.js";

export type { ScheduleKind };

/**
 * cumulative-error: how wrong the key's current output is, given one new
 * input (a record, or a count window); a finite number >= 0. It runs on every
 * online input, so it must be cheap (the operator is what is expensive).
 * `current` is null before the key's first output.
 */
export type PolicyErrorFn<In, Current> = (current: Current | null, pending: In) => number;

/**
 * Whether an arriving input is queued at all:
 * - "never": every input is queued (ralf's "always" predicate);
 * - { sample: p }: each input is kept with probability p, from a PRNG seeded with `seed` (default 1) or `random`;
 * - { moved: x, value }: kept when value(input) moved by more than x since the key's last kept input;
 * - "unqueried": inputs of keys not read since their last computed update are shed (a key's first is kept).
 */
export type ShedOption<In> =
  | "never"
  | "unqueried"
  | { readonly sample: number; readonly seed?: number; readonly random?: () => number }
  | { readonly moved: number; readonly value: (pending: In) => number };

/**
 * How much the operator may compute. perSecond: updates per second of the
 * store's clock (saving up at most `burst`, default one second's worth);
 * they are computed when pushes arrive. concurrency: operator calls at once,
 * computed in the background while pushes return.
 */
export type BudgetOption =
  | { readonly perSecond: number; readonly burst?: number; readonly concurrency?: number }
  | { readonly concurrency: number };

interface PolicyCommon<In> {
  /** Pending updates kept at most (default 10,000); Infinity for no bound. */
  readonly queue?: number;
  /** Default "never": every input is queued. */
  readonly shed?: ShedOption<In>;
  /** Default: no limit, everything queued is computed at each push. */
  readonly budget?: BudgetOption;
}

/** A table's processing policy. `error` comes with, and only with, schedule "cumulative-error". */
export type PolicyOptions<In, Current> =
  | (PolicyCommon<In> & { readonly schedule: Exclude<ScheduleKind, "cumulative-error">; readonly error?: never })
  | (PolicyCommon<In> & { readonly schedule: "cumulative-error"; readonly error: PolicyErrorFn<In, Current> });

const SCHEDULES: readonly ScheduleKind[] = ["fifo", "lifo", "key-lifo", "round-robin", "least-recently-updated", "max-staleness", "query-weighted", "cumulative-error"];

export const DEFAULT_POLICY_QUEUE = 10_000;

/** Checks a policy at definition time and turns it into plan data. */
export function policyDef<In, Current>(options: PolicyOptions<In, Current>): PolicyDef {
  const fail = (field: string, what: string): never => {
    throw new DefinitionError(`.policy(): ${what}`, { field });
  };
  if (typeof options !== "object" || options === null) fail("schedule", `pass { schedule: ${SCHEDULES.map((s) => `"${s}"`).join(" | ")}, ... }`);
  const { schedule } = options;
  if (!SCHEDULES.includes(schedule)) fail("schedule", `unknown schedule ${JSON.stringify(schedule)}; use one of ${SCHEDULES.join(", ")}`);
  let error: PolicyDef["error"];
  if (schedule === "cumulative-error") {
    if (typeof options.error !== "function") fail("error", `schedule "cumulative-error" needs error: (current, pending) => number`);
    error = options.error as (current: Row | null, pending: unknown) => number;
  } else if ((options as { error?: unknown }).error !== undefined) {
    fail("error", `an error function is only used by schedule "cumulative-error", not "${schedule}"`);
  }
  const queue = options.queue ?? DEFAULT_POLICY_QUEUE;
  if (!(queue === Number.POSITIVE_INFINITY || (Number.isInteger(queue) && queue >= 1))) fail("queue", `"queue" must be a whole number >= 1 or Infinity, got ${String(queue)}`);
  return { schedule, queue, error, shed: shedDef(options.shed ?? "never", fail), budget: budgetDef(options.budget, fail) };
}

function shedDef<In>(shed: ShedOption<In>, fail: (field: string, what: string) => never): ShedDef {
  if (shed === "never") return { kind: "never" };
  if (shed === "unqueried") return { kind: "queried" };
  if (typeof shed === "object" && shed !== null && "sample" in shed) {
    const { sample: p, seed = 1, random } = shed;
    if (!(typeof p === "number" && p > 0 && p <= 1)) fail("shed", `shed.sample is the probability of keeping an input, in (0, 1]; got ${String(p)}`);
    if (!Number.isInteger(seed)) fail("shed", `shed.seed must be a whole number, got ${String(seed)}`);
    if (random !== undefined && typeof random !== "function") fail("shed", "shed.random must be a function returning numbers in [0, 1)");
    return { kind: "sample", p, seed, random };
  }
  if (typeof shed === "object" && shed !== null && "moved" in shed) {
    if (!(Number.isFinite(shed.moved) && shed.moved >= 0)) fail("shed", `shed.moved is a threshold >= 0, got ${String(shed.moved)}`);
    if (typeof shed.value !== "function") fail("shed", "shed.moved needs value: (pending) => number, the number whose moves count");
    return { kind: "moved", threshold: shed.moved, value: shed.value as (pending: unknown) => number };
  }
  return fail("shed", `shed must be "never", "unqueried", { sample: p } or { moved: x, value }, got ${JSON.stringify(shed)}`);
}

function budgetDef(budget: BudgetOption | undefined, fail: (field: string, what: string) => never): PolicyDef["budget"] {
  if (budget === undefined) return { perSecond: undefined, burst: 1, concurrency: undefined };
  if (typeof budget !== "object" || budget === null) return fail("budget", "budget is { perSecond, burst? } and/or { concurrency }");
  const perSecond = "perSecond" in budget ? budget.perSecond : undefined;
  const concurrency = budget.concurrency;
  if (perSecond === undefined && concurrency === undefined) fail("budget", "budget needs perSecond (updates per second) or concurrency (operator calls at once)");
  if (perSecond !== undefined && !(Number.isFinite(perSecond) && perSecond > 0)) fail("budget", `budget.perSecond must be a number > 0, got ${String(perSecond)}`);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) fail("budget", `budget.concurrency must be a whole number >= 1, got ${String(concurrency)}`);
  const burst = ("burst" in budget ? budget.burst : undefined) ?? Math.max(1, perSecond ?? 1);
  if (!(Number.isFinite(burst) && burst >= 1)) fail("budget", `budget.burst must be a number >= 1, got ${String(burst)}`);
  return { perSecond, burst, concurrency };
}
