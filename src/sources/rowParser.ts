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

type Convert = (value: unknown, where: () => FreshetErrorDetails) => unknown;

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
    const dataset = this.def.name;
    const where = (field?: string): FreshetErrorDetails => ({
      dataset,
      ...(origin.file !== undefined ? { file: origin.file } : {}),
      row: origin.row,
      ...(field !== undefined ? { field } : {}),
    });
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      throw new SchemaError(`expected an object row, got ${describe(input)}`, where());
    }
    const src = input as Record<string, unknown>;
    const out: Row = {};
    for (const [name, convert] of this.fields) out[name] = convert(src[name], () => where(name));
    return out;
  }
}

function converter(name: string, ft: FieldType, text: boolean): Convert {
  const nullable = ft.nullable;
  const base = baseConverter(name, ft, text);
  return (v, where) => {
    if (v === undefined || v === null || (text && v === "")) {
      if (nullable) return null;
      throw new SchemaError(`missing value for required ${ft.kind} field "${name}"`, where());
    }
    return base(v, where);
  };
}

function baseConverter(name: string, ft: FieldType, text: boolean): Convert {
  switch (ft.kind) {
    case "string":
      return (v, where) => {
        if (typeof v === "string") return v;
        if (text && (typeof v === "number" || typeof v === "boolean")) return String(v);
        throw new SchemaError(`field "${name}" must be a string, got ${describe(v)}`, where());
      };
    case "float":
    case "int":
      return (v, where) => {
        let n: number | undefined;
        if (typeof v === "number") n = v;
        else if (typeof v === "bigint") n = Number(v);
        else if (text && typeof v === "string" && v.trim() !== "") n = Number(v);
        if (n === undefined || !Number.isFinite(n)) {
          throw new SchemaError(`field "${name}" must be a finite number, got ${describe(v)}`, where());
        }
        if (ft.kind === "int" && !Number.isInteger(n)) {
          throw new SchemaError(`field "${name}" must be an integer, got ${n}`, where());
        }
        return n;
      };
    case "bool":
      return (v, where) => {
        if (typeof v === "boolean") return v;
        if (text && typeof v === "string") {
          const s = v.trim().toLowerCase();
          if (s === "true" || s === "1") return true;
          if (s === "false" || s === "0") return false;
        }
        throw new SchemaError(`field "${name}" must be a boolean, got ${describe(v)}`, where());
      };
    case "timestamp":
      return (v, where) => {
        const ms = toEpochMs(v);
        if (ms === undefined) {
          throw new TimestampError(`field "${name}" is not a readable timestamp: ${describe(v)} (use ISO-8601, epoch milliseconds or a Date)`, where());
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
