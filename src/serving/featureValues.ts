import { RequestError } from "../errors.js";
import type { FeatureRecord } from "../registry/registry.js";
import type { FeatureValue } from "../stores/online/onlineStore.js";
import { jsonProblem } from "../stores/online/featureCell.js";

/**
 * Checks a value against its registered data type before anything is
 * written: a bad value is a RequestError naming the feature, never a stored
 * surprise for the model that reads it.
 */
export function checkFeatureValue(f: FeatureRecord, value: unknown, field: string): FeatureValue {
  if (value === null || value === undefined) {
    if (f.isNullable === false) throw new RequestError(`feature "${f.name}" is not nullable`, { field });
    return null;
  }
  const bad = (what: string): never => {
    throw new RequestError(`feature "${f.name}" is registered as ${f.dataType}: expected ${what}, got ${JSON.stringify(value)}`, { field });
  };
  switch (f.dataType) {
    case "int":
      return typeof value === "number" && Number.isSafeInteger(value) ? value : bad("a whole number");
    case "float":
      return typeof value === "number" && Number.isFinite(value) ? value : bad("a finite number");
    case "string":
      return typeof value === "string" ? value : bad("a string");
    case "bool":
      return typeof value === "boolean" ? value : bad("true or false");
    case "embedding":
      return Array.isArray(value) && value.every((x) => typeof x === "number" && Number.isFinite(x)) ? (value as number[]) : bad("an array of finite numbers");
    case "json":
      return jsonProblem(value, field) === undefined ? (value as FeatureValue) : bad("a JSON value");
  }
}
