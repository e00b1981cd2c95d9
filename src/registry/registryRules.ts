/**
 * What registering a feature, entity or table does, whatever stores it: which
 * specs are valid, when a registration replaces the stored record and when it
 * is a conflict, and the messages that explain the refusal. Both registries
 * (file and PostgreSQL) call these with the stored record they read, so the
 * rules exist once and the conformance suite checks them once per storage.
 *
 * - Features: a name that exists is a conflict unless the new version is
 *   higher; then the definition is replaced (same id, createdAt kept,
 *   updatedAt set).
 * - Entities and tables: the key (entity keyType; table key names, types and
 *   order) may change only with a higher version. With the stored version and
 *   the same key, other changes (fields, metadata, ttl) update the record; an
 *   identical registration returns the stored record untouched, so applying
 *   the same definitions at every start is free. A lower version is refused.
 */
import { ConflictError, RequestError } from "../errors.js";
import type {
  ColumnSpec,
  EntityRecord,
  EntitySpec,
  FeatureDataType,
  FeatureRecord,
  FeatureSpec,
  MetadataSpec,
  TableRecord,
  TableSpec,
} from "./registry.js";

export const FEATURE_DATA_TYPES: readonly FeatureDataType[] = ["int", "float", "string", "bool", "embedding", "json"];
export const ENTITY_KEY_TYPES: readonly EntitySpec["keyType"][] = ["string", "int", "float", "bool"];
export const TABLE_KINDS: readonly TableSpec["kind"][] = ["dataset", "table", "onDemand"];

/** A feature record before storage gives it an id. */
export type FeatureDefinition = Omit<FeatureRecord, "id">;

/** The statistics reference of a feature: "view:name". */
export function featureReference(f: Pick<FeatureRecord, "view" | "name">): string {
  return `${f.view}:${f.name}`;
}

/**
 * The record a feature registration stores, or a ConflictError when the name
 * exists without a higher version. Throws RequestError for an invalid spec.
 */
export function planFeature(existing: FeatureRecord | undefined, spec: FeatureSpec, now: Date): FeatureDefinition {
  validateFeatureSpec(spec);
  const version = spec.version ?? 1;
  if (existing === undefined) return featureDefinition(spec, version, now, null);
  if (version <= existing.version) {
    throw new ConflictError(
      `Feature "${spec.name}" is already registered (id ${existing.id}, version ${existing.version}); ` +
        `registering version ${version} does not replace it. Register it with version ${existing.version + 1} or higher to replace the definition, or delete it first.`,
      { field: "version" },
    );
  }
  return featureDefinition(spec, version, existing.createdAt, now);
}

/** The record an entity registration stores (`existing` itself when nothing changed). */
export function planEntity(existing: EntityRecord | undefined, spec: EntitySpec, now: Date): EntityRecord {
  validateEntitySpec(spec);
  const version = spec.version ?? 1;
  const next = (createdAt: Date, updatedAt: Date | null): EntityRecord => ({
    name: spec.name,
    keyType: spec.keyType,
    ...metadataOf(spec),
    version,
    createdAt,
    updatedAt,
  });
  if (existing === undefined) return next(now, null);
  if (version > existing.version) return next(existing.createdAt, now);
  refuseOlderVersion("Entity", spec.name, existing.version, version);
  if (spec.keyType !== existing.keyType) {
    throw new ConflictError(
      `Entity "${spec.name}": keyType changed from ${existing.keyType} to ${spec.keyType}. ` +
        `Changing the key type needs a new version: raise \`version\` to ${existing.version + 1} or higher (stored version ${existing.version}).`,
      { field: "keyType" },
    );
  }
  const updated = next(existing.createdAt, now);
  return sameDefinition(updated, existing) ? existing : updated;
}

/** The record a table registration stores (`existing` itself when nothing changed). */
export function planTable(existing: TableRecord | undefined, spec: TableSpec, now: Date): TableRecord {
  validateTableSpec(spec);
  const version = spec.version ?? 1;
  const next = (createdAt: Date, updatedAt: Date | null): TableRecord => ({
    name: spec.name,
    kind: spec.kind,
    keys: spec.keys.map(columnOf),
    fields: spec.fields.map(columnOf),
    ...(spec.ttlSeconds !== undefined && { ttlSeconds: spec.ttlSeconds }),
    ...metadataOf(spec),
    version,
    createdAt,
    updatedAt,
  });
  if (existing === undefined) return next(now, null);
  if (version > existing.version) return next(existing.createdAt, now);
  refuseOlderVersion("Table", spec.name, existing.version, version);
  const changes = keyChanges(existing.keys, spec.keys);
  if (changes.length > 0) {
    throw new ConflictError(
      `Table "${spec.name}": ${changes.join("; ")}. ` +
        `Changing keys needs a new version: raise \`version\` to ${existing.version + 1} or higher (stored version ${existing.version}).`,
      { field: "keys" },
    );
  }
  const updated = next(existing.createdAt, now);
  return sameDefinition(updated, existing) ? existing : updated;
}

export function validateFeatureSpec(spec: FeatureSpec): void {
  requireName(spec.name, "name");
  requireName(spec.entity, "entity");
  requireOneOf(spec.dataType, FEATURE_DATA_TYPES, "dataType");
  if (spec.featureGroup !== undefined) requireName(spec.featureGroup, "featureGroup");
  if (spec.ttlSeconds !== undefined) requirePositiveInteger(spec.ttlSeconds, "ttlSeconds");
  if (spec.version !== undefined) requirePositiveInteger(spec.version, "version");
  if (spec.isNullable !== undefined && typeof spec.isNullable !== "boolean") invalid("must be true or false", "isNullable");
  if (spec.source !== undefined) requireString(spec.source, "source");
  if (spec.transformation !== undefined) requireString(spec.transformation, "transformation");
  validateMetadata(spec);
}

export function validateEntitySpec(spec: EntitySpec): void {
  requireName(spec.name, "name");
  requireOneOf(spec.keyType, ENTITY_KEY_TYPES, "keyType");
  if (spec.version !== undefined) requirePositiveInteger(spec.version, "version");
  validateMetadata(spec);
}

export function validateTableSpec(spec: TableSpec): void {
  requireName(spec.name, "name");
  requireOneOf(spec.kind, TABLE_KINDS, "kind");
  validateColumns(spec.keys, "keys");
  validateColumns(spec.fields, "fields");
  if (spec.ttlSeconds !== undefined) requirePositiveInteger(spec.ttlSeconds, "ttlSeconds");
  if (spec.version !== undefined) requirePositiveInteger(spec.version, "version");
  validateMetadata(spec);
}

function featureDefinition(spec: FeatureSpec, version: number, createdAt: Date, updatedAt: Date | null): FeatureDefinition {
  return {
    name: spec.name,
    entity: spec.entity,
    dataType: spec.dataType,
    ...(spec.featureGroup !== undefined && { featureGroup: spec.featureGroup }),
    ...(spec.ttlSeconds !== undefined && { ttlSeconds: spec.ttlSeconds }),
    ...(spec.isNullable !== undefined && { isNullable: spec.isNullable }),
    ...(spec.source !== undefined && { source: spec.source }),
    ...(spec.transformation !== undefined && { transformation: spec.transformation }),
    ...metadataOf(spec),
    version,
    view: spec.featureGroup ?? spec.entity,
    createdAt,
    updatedAt,
  };
}

/** The metadata of a spec, without absent keys and with tags copied (the caller's object may change later). */
export function metadataOf(spec: MetadataSpec): MetadataSpec {
  return {
    ...(spec.description !== undefined && { description: spec.description }),
    ...(spec.owner !== undefined && { owner: spec.owner }),
    ...(spec.tags !== undefined && { tags: { ...spec.tags } }),
  };
}

function columnOf(c: ColumnSpec): ColumnSpec {
  return { name: c.name, type: c.type };
}

function refuseOlderVersion(what: "Entity" | "Table", name: string, stored: number, given: number): void {
  if (given < stored) {
    throw new ConflictError(
      `${what} "${name}" is registered at version ${stored}; version ${given} is older and is refused. Register it with version ${stored} or higher.`,
      { field: "version" },
    );
  }
}

/** Each difference between two key lists, in words. */
function keyChanges(before: readonly ColumnSpec[], after: readonly ColumnSpec[]): string[] {
  const changes: string[] = [];
  const old = new Map(before.map((c) => [c.name, c.type]));
  const now = new Map(after.map((c) => [c.name, c.type]));
  for (const c of after) {
    const was = old.get(c.name);
    if (was === undefined) changes.push(`key "${c.name}" (${c.type}) was added`);
    else if (was !== c.type) changes.push(`key "${c.name}" changed type from ${was} to ${c.type}`);
  }
  for (const c of before) if (!now.has(c.name)) changes.push(`key "${c.name}" (${c.type}) was removed`);
  if (changes.length === 0 && before.some((c, i) => after[i]?.name !== c.name)) {
    changes.push(`key order changed from (${before.map((c) => c.name).join(", ")}) to (${after.map((c) => c.name).join(", ")})`);
  }
  return changes;
}

/** Equal apart from updatedAt. Records are plain JSON-like data plus dates, so a canonical JSON compares them. */
function sameDefinition(a: EntityRecord | TableRecord, b: EntityRecord | TableRecord): boolean {
  return canonicalJson({ ...a, updatedAt: null }) === canonicalJson({ ...b, updatedAt: null });
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const entries = Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return Object.fromEntries(entries);
  });
}

function validateMetadata(spec: MetadataSpec): void {
  if (spec.description !== undefined) requireString(spec.description, "description");
  if (spec.owner !== undefined) requireString(spec.owner, "owner");
  if (spec.tags === undefined) return;
  if (spec.tags === null || typeof spec.tags !== "object" || Array.isArray(spec.tags)) invalid("must be an object of strings", "tags");
  for (const [k, v] of Object.entries(spec.tags)) requireString(v, `tags.${k}`);
}

function validateColumns(columns: readonly ColumnSpec[], field: "keys" | "fields"): void {
  if (!Array.isArray(columns)) invalid("must be an array of { name, type }", field);
  const seen = new Set<string>();
  columns.forEach((c, i) => {
    requireName(c.name, `${field}[${i}].name`);
    requireName(c.type, `${field}[${i}].type`);
    if (seen.has(c.name)) invalid(`repeats the column "${c.name}"`, `${field}[${i}].name`);
    seen.add(c.name);
  });
}

function requireName(value: unknown, field: string): void {
  if (typeof value !== "string" || value.trim() === "") invalid("must be a non-empty string", field);
}

function requireString(value: unknown, field: string): void {
  if (typeof value !== "string") invalid("must be a string", field);
}

function requirePositiveInteger(value: unknown, field: string): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    invalid(`must be a positive integer, got ${JSON.stringify(value) ?? String(value)}`, field);
  }
}

function requireOneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): void {
  if (!allowed.some((a) => a === value)) invalid(`must be one of ${allowed.join(", ")}, got ${JSON.stringify(value) ?? String(value)}`, field);
}

function invalid(why: string, field: string): never {
  throw new RequestError(`Invalid registration: ${field} ${why}`, { field });
}
