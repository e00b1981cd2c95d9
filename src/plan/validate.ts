import { DefinitionError } from "../errors.js";
import type { Schema } from "../core/schema.js";
import { VALUE_AGG_KINDS, type AggKind, type PlanNode } from "./nodes.js";

/** The schema rows have after a node, or undefined when a map without a schema hides it. */
export function schemaAfter(node: PlanNode): Schema | undefined {
  switch (node.kind) {
    case "source":
      return node.source.schema;
    case "filter":
      return schemaAfter(node.input);
    case "map":
      return node.schema;
    case "assign": {
      const s = schemaAfter(node.input);
      return s === undefined ? undefined : { ...s, [node.field]: node.type };
    }
    case "select": {
      const s = schemaAfter(node.input);
      if (s === undefined) return undefined;
      const out: Record<string, Schema[string]> = {};
      for (const f of node.fields) {
        const ft = s[f];
        if (ft === undefined) throw new DefinitionError(`select: unknown field "${f}"`, { field: f });
        out[f] = ft;
      }
      return out;
    }
    case "drop": {
      const s = schemaAfter(node.input);
      if (s === undefined) return undefined;
      const out: Record<string, Schema[string]> = { ...s };
      for (const f of node.fields) {
        if (!(f in out)) throw new DefinitionError(`drop: unknown field "${f}"`, { field: f });
        delete out[f];
      }
      return out;
    }
    case "rename": {
      const s = schemaAfter(node.input);
      if (s === undefined) return undefined;
      const out: Record<string, Schema[string]> = {};
      for (const f of Object.keys(node.mapping)) if (!(f in s)) throw new DefinitionError(`rename: unknown field "${f}"`, { field: f });
      for (const [f, ft] of Object.entries(s)) {
        const to = node.mapping[f] ?? f;
        if (to in out) throw new DefinitionError(`rename: two fields would be named "${to}"`, { field: to });
        out[to] = ft;
      }
      return out;
    }
    case "dropNull": {
      const s = schemaAfter(node.input);
      if (s === undefined) return undefined;
      const out: Record<string, Schema[string]> = { ...s };
      for (const f of node.fields) if (!(f in s)) throw new DefinitionError(`dropNull: unknown field "${f}"`, { field: f });
      for (const f of node.fields.length === 0 ? Object.keys(s) : node.fields) {
        const ft = s[f] as Schema[string];
        out[f] = { kind: ft.kind, nullable: false };
      }
      return out;
    }
    case "explode":
      // Schemas hold no list types: the element type of the exploded field is not declared.
      return undefined;
    case "dedup": {
      const s = schemaAfter(node.input);
      if (s !== undefined) for (const f of node.by) if (!(f in s)) throw new DefinitionError(`dedup: unknown field "${f}"`, { field: f });
      return s;
    }
    case "intervalJoin": {
      const s = schemaAfter(node.input);
      const o = schemaAfter(node.other);
      if (s === undefined || o === undefined) return undefined;
      const out: Record<string, Schema[string]> = { ...s };
      for (const { from, as } of node.fields) out[as] = o[from] as Schema[string];
      return out;
    }
    case "union":
      return schemaAfter(node.input) ?? schemaAfter(node.other);
    case "join": {
      const s = schemaAfter(node.input);
      if (s === undefined) return undefined;
      const out: Record<string, Schema[string]> = { ...s };
      for (const { from, as } of node.fields) {
        const ft = node.right.schema[from] as Schema[string];
        out[as] = node.how === "left" ? { kind: ft.kind, nullable: true } : ft;
      }
      return out;
    }
    case "aggregate":
    case "operator":
      return undefined;
  }
}

/**
 * Checks an aggregate against the schema of its input: keys exist and are not
 * nullable, aggregated fields exist, and numeric aggregations read numeric fields. Types catch this at
 * compile time; this catches it for JavaScript users and dynamic definitions.
 */
export function validateAggregate(
  input: PlanNode,
  keys: readonly string[],
  aggregations: Readonly<Record<string, { kind: AggKind; field: string | undefined; window: number }>>,
): void {
  if (keys.length === 0) throw new DefinitionError("groupBy needs at least one key field");
  const names = Object.keys(aggregations);
  if (names.length === 0) throw new DefinitionError("aggregate needs at least one aggregation");
  for (const name of names) {
    if (keys.includes(name)) throw new DefinitionError(`aggregation "${name}" has the same name as a key field`, { field: name });
  }
  for (const [name, a] of Object.entries(aggregations)) {
    if (a.kind !== "count" && (typeof a.field !== "string" || a.field === "")) {
      throw new DefinitionError(`aggregation "${name}": ${a.kind} needs a field name`, { field: name });
    }
  }
  const schema = schemaAfter(input);
  if (schema === undefined) return;
  for (const k of keys) {
    const ft = schema[k];
    if (ft === undefined) throw new DefinitionError(`groupBy: unknown field "${k}"; fields are ${Object.keys(schema).join(", ")}`, { field: k });
    if (ft.nullable) throw new DefinitionError(`groupBy: key field "${k}" is optional; keys must always be present`, { field: k });
  }
  for (const [name, a] of Object.entries(aggregations)) {
    if (a.field === undefined) continue;
    const ft = schema[a.field];
    if (ft === undefined) {
      throw new DefinitionError(`aggregation "${name}": unknown field "${a.field}"; fields are ${Object.keys(schema).join(", ")}`, { field: a.field });
    }
    if (!VALUE_AGG_KINDS.has(a.kind) && ft.kind !== "float" && ft.kind !== "int") {
      throw new DefinitionError(`aggregation "${name}": ${a.kind} needs a numeric field, "${a.field}" is ${ft.kind}`, { field: a.field });
    }
  }
}
