import { RequestError, StorageError } from "../../errors.js";
import type { FeatureRead, FeatureValue, OnlineWrite, ReadOptions, WriteOptions } from "./onlineStore.js";

/**
 * One stored feature value of one key, and the rule that turns it into a
 * served read. Every online store (memory, LMDB, Redis) goes through this file
 * so that validation, encoding and the status rule are written once.
 *
 * Persistent stores encode a cell as the JSON text `[writtenAt, eventTime, value]`,
 * or `[writtenAt, eventTime, value, epoch]` when the write carried a checkpoint
 * epoch > 0 (so cells written without epochs, and what redis-cli shows of
 * them, stay as they were). A cell without an epoch has epoch 0.
 * JSON, rather than msgpack, because it round-trips every JSON value exactly
 * (msgpackr renames "__proto__" keys and loses lone surrogates) and reads the
 * same in LMDB and in redis-cli.
 */

/** Served for a key or feature that has no stored value. Shared: reads are read-only. */
export const NOT_FOUND: FeatureRead = Object.freeze({ value: null, status: "NOT_FOUND", eventTime: null });

/**
 * A stored value. It is itself the read served while it is within its TTL, so
 * a read of a live value allocates nothing; the write time stays private (not
 * part of the served read, and not shown by JSON.stringify).
 */
export class FeatureCell implements FeatureRead {
  readonly value: FeatureValue;
  readonly status: "PRESENT" | "NULL_VALUE";
  readonly eventTime: number;
  readonly #writtenAt: number;
  readonly #epoch: number;

  constructor(value: FeatureValue, writtenAt: number, eventTime: number, epoch = 0) {
    this.value = value;
    this.status = value === null ? "NULL_VALUE" : "PRESENT";
    this.eventTime = eventTime;
    this.#writtenAt = writtenAt;
    this.#epoch = epoch;
  }

  /** Checkpoint epoch of the write that stored it (0 when it had none). A getter: not part of the served read. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Whether a write at (eventTime, epoch) replaces this cell under "event-time" order. */
  yieldsTo(eventTime: number, epoch: number): boolean {
    return replaces(eventTime, epoch, this.eventTime, this.#epoch);
  }

  /**
   * The read at `now`: expired once more than `ttlMs` has passed since the
   * write (a value written at t is still served at t + ttl, not at t + ttl + 1).
   * The TTL check comes first, so an expired null reads OUTSIDE_MAX_AGE.
   */
  readAt(now: number, ttlMs: number | undefined): FeatureRead {
    if (ttlMs !== undefined && now - this.#writtenAt > ttlMs) {
      return { value: null, status: "OUTSIDE_MAX_AGE", eventTime: this.eventTime };
    }
    return this;
  }
}

/** The status rule for a cell that may be absent. */
export function readCell(cell: FeatureCell | undefined, now: number, ttlMs: number | undefined): FeatureRead {
  return cell === undefined ? NOT_FOUND : cell.readAt(now, ttlMs);
}

/**
 * The "event-time" order rule: a write at (eventTime, epoch) replaces a cell
 * stored at (storedEventTime, storedEpoch) when it is not older in
 * lexicographic order. Equal replaces, so writing the same thing twice leaves
 * the same cell (with the later write time). The Redis script states the same
 * rule in Lua (redisOnlineStore.ts).
 */
export function replaces(eventTime: number, epoch: number, storedEventTime: number, storedEpoch: number): boolean {
  return eventTime > storedEventTime || (eventTime === storedEventTime && epoch >= storedEpoch);
}

/** What `encodeCell` and `cellFromTuple` say a cell is, for error messages. */
export const CELL_SHAPE = "[writtenAt, eventTime, value] or [writtenAt, eventTime, value, epoch]";

/**
 * JSON text of a cell whose value was already checked by `validateWrite`:
 * `[writtenAt, eventTime, value]`, with the epoch appended only when it is > 0.
 */
export function encodeCell(value: FeatureValue, writtenAt: number, eventTime: number, epoch = 0): string {
  return JSON.stringify(epoch > 0 ? [writtenAt, eventTime, value, epoch] : [writtenAt, eventTime, value]);
}

/**
 * Decodes `[writtenAt, eventTime, value]` or `[writtenAt, eventTime, value, epoch]`
 * as parsed from stored JSON, or undefined when it is not a cell (an epoch must
 * be a whole number >= 0). Hot path: the caller builds the error (and its
 * location string) only when that happens.
 */
export function cellFromTuple(tuple: FeatureValue): FeatureCell | undefined {
  if (!isFeatureArray(tuple) || (tuple.length !== 3 && tuple.length !== 4)) return undefined;
  const [writtenAt, eventTime, value, epoch] = tuple;
  if (typeof writtenAt !== "number" || typeof eventTime !== "number" || value === undefined) return undefined;
  if (epoch === undefined) return new FeatureCell(value, writtenAt, eventTime);
  if (!isEpoch(epoch)) return undefined;
  return new FeatureCell(value, writtenAt, eventTime, epoch);
}

/** A checkpoint epoch: a whole number >= 0 that a double holds exactly. */
export function isEpoch(epoch: unknown): epoch is number {
  return typeof epoch === "number" && Number.isSafeInteger(epoch) && epoch >= 0;
}

/** Decodes the JSON text of one cell (see `encodeCell`), or undefined when it is not one. */
export function cellFromText(text: string): FeatureCell | undefined {
  const tuple = parseStoredJson(text);
  return tuple === undefined ? undefined : cellFromTuple(tuple);
}

/** Parses JSON text written by a store, or undefined when it is not JSON. */
export function parseStoredJson(text: string): FeatureValue | undefined {
  try {
    // JSON.parse yields only JSON values, which is exactly what FeatureValue describes.
    return JSON.parse(text) as FeatureValue;
  } catch {
    return undefined;
  }
}

/** The error for stored data a store cannot decode; `where` names the store and entry. */
export function corruptEntryError(where: string, expected: string): StorageError {
  return new StorageError(`Corrupt online store entry at ${where}: expected ${expected}. Drop the namespace and materialize it again.`);
}

/** Array.isArray does not narrow to readonly arrays; this does. */
export function isFeatureArray(value: FeatureValue): value is readonly FeatureValue[] {
  return Array.isArray(value);
}

/** Object-valued JSON (not an array, not null). */
export function isFeatureObject(value: FeatureValue): value is { readonly [key: string]: FeatureValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const NO_TTLS: readonly (number | undefined)[] = [];

/**
 * The TTL of each requested feature, by position, checked once per read (so
 * the per-cell loop does no lookups). Own properties only: a feature called
 * "constructor" must not find Object.prototype.constructor.
 */
export function ttlsFor(features: readonly string[], options: ReadOptions): readonly (number | undefined)[] {
  checkTime(options.now, "now", "read");
  const ttlMs = options.ttlMs;
  if (ttlMs === undefined) return NO_TTLS;
  const ttls: (number | undefined)[] = [];
  for (const feature of features) {
    const ttl = Object.hasOwn(ttlMs, feature) ? ttlMs[feature] : undefined;
    if (ttl !== undefined && !(typeof ttl === "number" && ttl >= 0 && Number.isFinite(ttl))) {
      throw new RequestError(`The TTL of feature "${feature}" must be a finite number of milliseconds >= 0, got ${String(ttl)}.`, {
        field: `ttlMs.${feature}`,
      });
    }
    ttls.push(ttl);
  }
  return ttls;
}

/**
 * Checks a whole write before anything of it is stored, so a store can apply
 * all rows or none: times are finite numbers, epochs whole numbers >= 0, the
 * order one the stores know, and every value is JSON.
 */
export function validateWrite(namespace: string, rows: readonly OnlineWrite[], options: WriteOptions): void {
  checkTime(options.now, "now", "write");
  const expire = options.expireAfterMs;
  if (expire !== undefined && !(typeof expire === "number" && expire > 0 && Number.isFinite(expire))) {
    throw new RequestError(`expireAfterMs must be a finite number of milliseconds > 0, got ${String(expire)}.`, { field: "expireAfterMs" });
  }
  const order: unknown = options.order;
  if (order !== undefined && order !== "write" && order !== "event-time") {
    throw new RequestError(`The write order must be "write" or "event-time", got ${typeof order === "string" ? JSON.stringify(order) : String(order)}.`, { field: "order" });
  }
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (row === undefined) continue;
    if (typeof row.key !== "string") {
      throw new RequestError(`Online write to namespace "${namespace}": the key of row ${i} must be a string (see core/keys.ts).`, { field: `rows[${i}].key` });
    }
    if (row.eventTime !== undefined) checkTime(row.eventTime, `rows[${i}].eventTime`, "write");
    if (row.epoch !== undefined && !isEpoch(row.epoch)) {
      throw new RequestError(
        `Online write to namespace "${namespace}": the epoch of row ${i} (key "${row.key}") must be a whole number >= 0 (a checkpoint epoch), got ${String(row.epoch)}; nothing of this write was stored.`,
        { field: `rows[${i}].epoch` },
      );
    }
    for (const [feature, value] of Object.entries(row.features)) {
      const problem = jsonProblem(value, feature);
      if (problem !== undefined) {
        throw new RequestError(
          `Feature "${feature}" of key "${row.key}" in namespace "${namespace}" is not JSON: ${problem}. ` +
            "Feature values must be a string, a finite number, a boolean, null, or an array or plain object of those; nothing of this write was stored.",
          { field: `rows[${i}].features.${feature}` },
        );
      }
    }
  }
}

function checkTime(time: number, field: string, what: string): void {
  if (typeof time !== "number" || !Number.isFinite(time)) {
    throw new RequestError(`The ${what} time ${field} must be a finite number of milliseconds since the epoch, got ${String(time)}.`, { field });
  }
}

/**
 * Why `value` is not a JSON value that round-trips exactly, or undefined when
 * it is. `ancestors` holds the objects on the path, to report cycles (a shared
 * but acyclic object is fine: JSON writes it twice).
 */
/** Why `value` is not a feature value (JSON that round-trips, at most MAX_DEPTH deep), or undefined when it is one. */
export function jsonProblem(value: unknown, path: string): string | undefined {
  return describeNonJson(value, path, new Set());
}

/** Deeper values are refused: checking them recursively could exhaust the stack on hostile input. */
const MAX_DEPTH = 64;

function describeNonJson(value: unknown, path: string, ancestors: Set<object>): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `${path} is ${String(value)}, which JSON cannot hold`;
    case "undefined":
      return `${path} is undefined (use null for a missing value)`;
    case "bigint":
      return `${path} is a bigint (${String(value)}n); convert it to a number or a string`;
    case "function":
    case "symbol":
      return `${path} is a ${typeof value}`;
    case "object":
      break;
  }
  if (value === null) return undefined;
  if (ancestors.has(value)) return `${path} is a circular reference`;
  if (ancestors.size >= MAX_DEPTH) return `${path} is nested deeper than ${MAX_DEPTH} levels`;
  ancestors.add(value);
  const problem = Array.isArray(value) ? describeNonJsonArray(value, path, ancestors) : describeNonJsonObject(value, path, ancestors);
  ancestors.delete(value);
  return problem;
}

function describeNonJsonArray(array: readonly unknown[], path: string, ancestors: Set<object>): string | undefined {
  for (let i = 0; i < array.length; i++) {
    if (!(i in array)) return `${path}[${i}] is a hole in a sparse array`;
    const problem = describeNonJson(array[i], `${path}[${i}]`, ancestors);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function describeNonJsonObject(object: object, path: string, ancestors: Set<object>): string | undefined {
  const proto: unknown = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) {
    const name = (object as { constructor?: { name?: unknown } }).constructor?.name;
    return `${path} is ${typeof name === "string" && name !== "" ? `a ${name}` : "an object with a custom prototype"}, not a plain object`;
  }
  if (Object.getOwnPropertySymbols(object).length > 0) return `${path} has symbol keys, which JSON drops`;
  for (const [key, item] of Object.entries(object)) {
    const problem = describeNonJson(item, `${path}.${key}`, ancestors);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
