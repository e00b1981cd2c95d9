import type { FieldType } from "../core/schema.js";
import { DECODE_FAILURE, StreamDecodeFailure } from "./stream/streamSource.js";
import { literalKey, setField } from "../core/objectLiteral.js";
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

/** See RowParser.parseRun. */
type ParseRun = (items: readonly unknown[], from: number, end: number, rows: Row[], ts: Float64Array, at: number) => number;

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
  private readonly run: ParseRun;

  constructor(def: SourceDef, options: ParserOptions = {}) {
    this.def = def;
    const names = Object.keys(def.schema);
    const types = names.map((name) => def.schema[name] as FieldType);
    const converters = names.map((name, i) => converter(name, types[i] as FieldType, options.text === true));
    const compiled = compileParsers(names, types, converters, options.text === true, def.timestamp);
    this.build = compiled.build;
    this.run = compiled.run ?? ((items, from, end, rows, ts, at) => this.interpretedRun(items, from, end, rows, ts, at));
  }

  /**
   * Parses items[from], items[from + 1], ... (before `end`) into rows[at],
   * rows[at + 1], ... and their event times into ts[at], ... up to `end` or
   * the first item that does not parse; returns the index of that item (then
   * parseAt tells why) or `end`. The batch form of parseAt, without a call
   * per row (a large share of a backfill's time otherwise).
   */
  parseRun(items: readonly unknown[], from: number, end: number, rows: Row[], ts: Float64Array, at: number): number {
    return this.run(items, from, end, rows, ts, at);
  }

  /** parseRun without generated code. */
  private interpretedRun(items: readonly unknown[], from: number, end: number, rows: Row[], ts: Float64Array, at: number): number {
    const tsField = this.def.timestamp;
    for (let i = from; i < end; i++, at++) {
      const row = this.check(items[i]);
      if (typeof row === "string" || row instanceof FieldProblem) return i;
      rows[at] = row;
      ts[at] = row[tsField] as number;
    }
    return end;
  }

  /** Returns the typed row; its event time is row[def.timestamp]. */
  parse(input: unknown, origin: RowOrigin): Row {
    return this.parseAt(input, origin.row, origin.file);
  }

  /** The same as parse, without an origin object per row. */
  parseAt(input: unknown, row: number, file?: string): Row {
    const out = this.check(input);
    if (typeof out === "string") throw new SchemaError(out, this.where(row, file));
    if (out instanceof FieldProblem) {
      const where = this.where(row, file, out.field);
      throw out.timestamp ? new TimestampError(out.message, where) : new SchemaError(out.message, where);
    }
    return out;
  }

  /** The typed row; or what is wrong with it: a field's problem, or why it is no row at all. */
  private check(input: unknown): Row | FieldProblem | string {
    if (input instanceof StreamDecodeFailure) return `message at ${input.at}: ${input.reason}`;
    if (typeof input !== "object" || input === null || Array.isArray(input)) return `expected an object row, got ${describe(input)}`;
    return this.build(input as Record<string, unknown>);
  }

  private where(row: number, file: string | undefined, field?: string): FreshetErrorDetails {
    return { dataset: this.def.name, ...(file !== undefined ? { file } : {}), row, ...(field !== undefined ? { field } : {}) };
  }
}

/**
 * Statements converting v<i> (not in its typed form) through converter c[i],
 * running `problem` when it does not convert. A Date (how Parquet and
 * database drivers give timestamps) converts inline first: a first parse
 * pass over 3M Parquet-shaped rows took about 290 ms with the call and 240–
 * 300 ms with this (the same inline path for bigints made it 740 ms).
 */
function convertCode(ft: FieldType, i: number, problem: string): string {
  const v = `v${i}`;
  const call = `${v} = c[${i}](${v}); if (${v} instanceof P) ${problem}`;
  return ft.kind === "timestamp" ? `if (${v} instanceof Date && (x = ${v}.getTime()) === x) ${v} = x; else { ${call} }` : call;
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

/**
 * The generated parsers of a schema: `build` for one row, `run` for
 * RowParser.parseRun (undefined when code generation is disabled).
 */
function compileParsers(
  names: readonly string[],
  types: readonly FieldType[],
  converters: readonly Convert[],
  text: boolean,
  tsField: string,
): { build: BuildRow; run: ParseRun | undefined } {
  // Reads and checks every field of `src` into v0, v1, ...; `problem(i)` is the statement run when v<i> does not convert.
  const checks = (problem: (i: number) => string): string[] => [
    "let typed = true, x;",
    ...names.map(
      (name, i) =>
        `let v${i} = src[${JSON.stringify(name)}];\nif (!(${alreadyTyped(types[i] as FieldType, `v${i}`, text)})) { typed = false; ${convertCode(types[i] as FieldType, i, problem(i))} }`,
    ),
  ];
  // A row whose fields are all already typed is used as it is: the engine never
  // mutates rows and keeps no reference to them after a batch (history copies
  // values), so copying would only feed the GC.
  const typedRow = `typed ? src : { ${names.map((name, i) => `${literalKey(name)}: v${i}`).join(", ")} }`;
  const build = ["function buildRow(src) {", ...checks((i) => `return v${i};`), `return ${typedRow};`, "}"];
  const tsIndex = names.indexOf(tsField);
  const run = [
    "function parseRun(items, from, end, rows, ts, at) {",
    "for (let i = from; i < end; i++, at++) {",
    "const src = items[i];",
    "if (typeof src !== \"object\" || src === null || Array.isArray(src) || src[F] === true) return i;",
    ...checks(() => "return i;"),
    `rows[at] = ${typedRow};`,
    `ts[at] = v${tsIndex};`,
    "}",
    "return end;",
    "}",
  ];
  try {
    const factory = new Function(
      "c",
      "P",
      "F",
      `return [${build.join("\n")}, ${run.join("\n")}];\n//# sourceURL=freshet-generated/row-parser.js`,
    ) as (c: readonly Convert[], p: typeof FieldProblem, f: typeof DECODE_FAILURE) => [BuildRow, ParseRun];
    const [b, r] = factory(converters, FieldProblem, DECODE_FAILURE);
    return { build: b, run: tsIndex < 0 ? undefined : r };
  } catch {
    // Code generation disabled (--disallow-code-generation-from-strings): the same logic, interpreted.
    const interpreted: BuildRow = (src) => {
      const out: Row = {};
      for (let i = 0; i < names.length; i++) {
        const v = (converters[i] as Convert)(src[names[i] as string]);
        if (v instanceof FieldProblem) return v;
        setField(out, names[i] as string, v);
      }
      return out;
    };
    return { build: interpreted, run: undefined };
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
