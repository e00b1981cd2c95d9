import type { FieldType } from "../core/schema.js";
import { toEpochMs } from "../core/time.js";
import { SchemaError, TimestampError, type FreshetErrorDetails } from "../errors.js";
import type { Row, SourceDef } from "../plan/nodes.js";

/** Where a row came from, for error messages: `file` and 1-based `row`. */
export interface RowOrigin {
  readonly file?: string;
  readonly row: number;
}

export interface ParserOptions {
  /** Text sources (CSV): numbers and booleans arrive as strings, and "" means null. */
  readonly text?: boolean;
}

type Convert = (value: unknown) => unknown;

/** A value that does not fit its field; parse() adds where it happened. */
class FieldProblem {
  constructor(
    readonly message: string,
    readonly timestamp: boolean,
  ) {}
}

/**
 * Parses unknown input rows into typed rows of a dataset: exactly the schema's
 * fields (extra input fields are ignored), numbers as numbers, timestamps as
 * epoch ms UTC. Anything that does not fit throws a SchemaError or
 * TimestampError naming the dataset, file, row and field.
 */
export class RowParser {
  private readonly fields: ReadonlyArray<readonly [string, Convert]>;
  readonly def: SourceDef;

  constructor(def: SourceDef, options: ParserOptions = {}) {
    this.def = def;
    this.fields = Object.entries(def.schema).map(([name, ft]) => [name, converter(name, ft, options.text === true)] as const);
  }

  /** Returns the typed row; its event time is row[def.timestamp]. */
  parse(input: unknown, origin: RowOrigin): Row {
    const where = (field?: string): FreshetErrorDetails => ({
      dataset: this.def.name,
      ...(origin.file !== undefined ? { file: origin.file } : {}),
      row: origin.row,
      ...(field !== undefined ? { field } : {}),
    });
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      throw new SchemaError(`expected an object row, got ${describe(input)}`, where());
    }
    const src = input as Record<string, unknown>;
    const out: Row = {};
    const fields = this.fields;
    for (let i = 0; i < fields.length; i++) {
      const [name, convert] = fields[i] as readonly [string, Convert];
      const v = convert(src[name]);
      if (v instanceof FieldProblem) {
        throw v.timestamp ? new TimestampError(v.message, where(name)) : new SchemaError(v.message, where(name));
      }
      out[name] = v;
    }
    return out;
  }
}

function converter(name: string, ft: FieldType, text: boolean): Convert {
  const nullable = ft.nullable;
  const base = baseConverter(name, ft, text);
  return (v) => {
    if (v === undefined || v === null || (text && v === "")) {
      if (nullable) return null;
      return new FieldProblem(`missing value for required ${ft.kind} field "${name}"`, false);
    }
    return base(v);
  };
}

function baseConverter(name: string, ft: FieldType, text: boolean): Convert {
  switch (ft.kind) {
    case "string":
      return (v) => {
        if (typeof v === "string") return v;
        if (text && (typeof v === "number" || typeof v === "boolean")) return String(v);
        return new FieldProblem(`field "${name}" must be a string, got ${describe(v)}`, false);
      };
    case "float":
    case "int":
      return (v) => {
        let n: number | undefined;
        if (typeof v === "number") {
          if (Number.isFinite(v) && (ft.kind === "float" || Number.isInteger(v))) return v;
          n = v;
        }
        else if (typeof v === "bigint") n = Number(v);
        else if (text && typeof v === "string" && v.trim() !== "") n = Number(v);
        if (n === undefined || !Number.isFinite(n)) {
          return new FieldProblem(`field "${name}" must be a finite number, got ${describe(v)}`, false);
        }
        if (ft.kind === "int" && !Number.isInteger(n)) {
          return new FieldProblem(`field "${name}" must be an integer, got ${n}`, false);
        }
        return n;
      };
    case "bool":
      return (v) => {
        if (typeof v === "boolean") return v;
        if (text && typeof v === "string") {
          const s = v.trim().toLowerCase();
          if (s === "true" || s === "1") return true;
          if (s === "false" || s === "0") return false;
        }
        return new FieldProblem(`field "${name}" must be a boolean, got ${describe(v)}`, false);
      };
    case "timestamp":
      return (v) => {
        if (typeof v === "number" && Number.isFinite(v)) return Math.trunc(v);
        const ms = toEpochMs(v);
        if (ms === undefined) {
          return new FieldProblem(`field "${name}" is not a readable timestamp: ${describe(v)} (use ISO-8601, epoch milliseconds or a Date)`, true);
        }
        return ms;
      };
  }
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (v instanceof Date) return `Date(${Number.isNaN(v.getTime()) ? "invalid" : v.toISOString()})`;
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}
