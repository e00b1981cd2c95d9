import type { FieldType } from "../core/schema.js";
import { StreamDecodeFailure } from "./stream/streamSource.js";
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
    readonly field: string,
    readonly message: string,
    readonly timestamp: boolean,
  ) {}
}

type BuildRow = (src: Record<string, unknown>) => Row | FieldProblem;

/**
 * Parses unknown input rows into typed rows of a dataset: the schema's fields
 * (extra input fields are ignored), numbers as numbers, timestamps as
 * epoch ms UTC. Anything that does not fit throws a SchemaError or
 * TimestampError naming the dataset, file, row and field.
 *
 * The checks are generated per schema (this is the hot path of every ingest).
 * A row that needs conversion is rebuilt by one generated object literal, so
 * converted rows share one hidden class; a row already fully typed is passed
 * on as it is (it may then carry extra fields, which pipelines never see in
 * their types and history never stores).
 */
export class RowParser {
  readonly def: SourceDef;
  private readonly build: BuildRow;

  constructor(def: SourceDef, options: ParserOptions = {}) {
    this.def = def;
    const names = Object.keys(def.schema);
    const types = names.map((name) => def.schema[name] as FieldType);
    const converters = names.map((name, i) => converter(name, types[i] as FieldType, options.text === true));
    this.build = compileBuilder(names, types, converters, options.text === true);
  }

  /** Returns the typed row; its event time is row[def.timestamp]. */
  parse(input: unknown, origin: RowOrigin): Row {
    return this.parseAt(input, origin.row, origin.file);
  }

  /** The same as parse, without an origin object per row. */
  parseAt(input: unknown, row: number, file?: string): Row {
    if (input instanceof StreamDecodeFailure) throw new SchemaError(`message at ${input.at}: ${input.reason}`, this.where(row, file));
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      throw new SchemaError(`expected an object row, got ${describe(input)}`, this.where(row, file));
    }
    const out = this.build(input as Record<string, unknown>);
    if (out instanceof FieldProblem) {
      const where = this.where(row, file, out.field);
      throw out.timestamp ? new TimestampError(out.message, where) : new SchemaError(out.message, where);
    }
    return out;
  }

  private where(row: number, file: string | undefined, field?: string): FreshetErrorDetails {
    return { dataset: this.def.name, ...(file !== undefined ? { file } : {}), row, ...(field !== undefined ? { field } : {}) };
  }
}

/** A JS condition true when `v` is already in its typed form (then no conversion call is made). */
function alreadyTyped(ft: FieldType, v: string, text: boolean): string {
  switch (ft.kind) {
    case "string":
      // In text sources "" means null, so it goes through the converter.
      return text ? `typeof ${v} === "string" && ${v} !== ""` : `typeof ${v} === "string"`;
    case "float":
      return `typeof ${v} === "number" && ${v} - ${v} === 0`;
    case "int":
    case "timestamp":
      return `typeof ${v} === "number" && Number.isInteger(${v})`;
    case "bool":
      return `typeof ${v} === "boolean"`;
  }
}

function compileBuilder(names: readonly string[], types: readonly FieldType[], converters: readonly Convert[], text: boolean): BuildRow {
  const lines: string[] = ["let typed = true;"];
  names.forEach((name, i) => {
    lines.push(`let v${i} = src[${JSON.stringify(name)}];`);
    lines.push(`if (!(${alreadyTyped(types[i] as FieldType, `v${i}`, text)})) { typed = false; v${i} = c[${i}](v${i}); if (v${i} instanceof P) return v${i}; }`);
  });
  // A row whose fields are all already typed is used as it is: the engine never
  // mutates rows and keeps no reference to them after a batch (history copies
  // values), so copying would only feed the GC.
  lines.push("if (typed) return src;");
  lines.push(`return { ${names.map((name, i) => `${JSON.stringify(name)}: v${i}`).join(", ")} };`);
  try {
    const factory = new Function("c", "P", `return function buildRow(src) {\n${lines.join("\n")}\n};\n//# sourceURL=freshet-generated/row-parser.js`) as (c: readonly Convert[], p: typeof FieldProblem) => BuildRow;
    return factory(converters, FieldProblem);
  } catch {
    // Code generation disabled (--disallow-code-generation-from-strings): the same logic, interpreted.
    return (src) => {
      const out: Row = {};
      for (let i = 0; i < names.length; i++) {
        const v = (converters[i] as Convert)(src[names[i] as string]);
        if (v instanceof FieldProblem) return v;
        out[names[i] as string] = v;
      }
      return out;
    };
  }
}

function converter(name: string, ft: FieldType, text: boolean): Convert {
  const nullable = ft.nullable;
  const base = baseConverter(name, ft, text);
  return (v) => {
    if (v === undefined || v === null || (text && v === "")) {
      if (nullable) return null;
      return new FieldProblem(name, `missing value for required ${ft.kind} field "${name}"`, false);
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
        return new FieldProblem(name, `field "${name}" must be a string, got ${describe(v)}`, false);
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
          return new FieldProblem(name, `field "${name}" must be a finite number, got ${describe(v)}`, false);
        }
        if (ft.kind === "int" && !Number.isInteger(n)) {
          return new FieldProblem(name, `field "${name}" must be an integer, got ${n}`, false);
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
        return new FieldProblem(name, `field "${name}" must be a boolean, got ${describe(v)}`, false);
      };
    case "timestamp":
      return (v) => {
        if (typeof v === "number" && Number.isFinite(v)) return Math.trunc(v);
        const ms = toEpochMs(v);
        if (ms === undefined) {
          return new FieldProblem(name, `field "${name}" is not a readable timestamp: ${describe(v)} (use ISO-8601, epoch milliseconds or a Date)`, true);
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
