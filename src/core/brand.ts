/**
 * Marks that make `instanceof` work across two copies of freshet in one
 * process: a definitions module resolving "freshet" to the built package
 * while the CLI runs from source, or two installs in one workspace. A class
 * carries its mark on every instance and checks the mark, not the
 * constructor, in `Symbol.hasInstance`.
 */
export const DATASET_BRAND: unique symbol = Symbol.for("freshet.Dataset");
export const SOURCE_DATASET_BRAND: unique symbol = Symbol.for("freshet.SourceDataset");
export const TABLE_BRAND: unique symbol = Symbol.for("freshet.Table");
export const OPERATOR_TABLE_BRAND: unique symbol = Symbol.for("freshet.OperatorTable");
export const ON_DEMAND_BRAND: unique symbol = Symbol.for("freshet.OnDemandFeature");

export function hasBrand(value: unknown, brand: symbol): boolean {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}
