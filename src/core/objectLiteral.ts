/**
 * A property key for generated object literals: the name as a JSON string
 * literal, so any name is safe, and "__proto__" as a computed key, which
 * defines a field where `__proto__: v` would set the prototype.
 */
export function literalKey(name: string): string {
  return name === "__proto__" ? `[${JSON.stringify(name)}]` : JSON.stringify(name);
}

/** Sets a field of a row being built; "__proto__" becomes a field too instead of replacing the prototype. */
export function setField(r: Record<string, unknown>, k: string, v: unknown): void {
  if (k === "__proto__") Object.defineProperty(r, k, { value: v, enumerable: true, writable: true, configurable: true });
  else r[k] = v;
}

/** Row i of columns `c`: { names[0]: c[0][i], names[1]: c[1][i], ... }. */
export type RowFactory = (columns: ReadonlyArray<ArrayLike<unknown>>, i: number) => Record<string, unknown>;

/**
 * Builds a RowFactory for these field names, with undefined values read as
 * null when `missingAsNull`. An object literal with a fixed set of keys gets
 * one hidden class up front and is one allocation; adding the keys in a loop
 * is several times slower on millions of rows (and two allocations per row
 * past four fields).
 */
export function rowFactory(names: readonly string[], missingAsNull = false): RowFactory {
  const value = (j: number): string => (missingAsNull ? `c[${j}][i] ?? null` : `c[${j}][i]`);
  const props = names.map((name, j) => `${literalKey(name)}: ${value(j)}`);
  try {
    return new Function("c", "i", `return { ${props.join(", ")} };\n//# sourceURL=freshet-generated/row-factory.js`) as RowFactory;
  } catch {
    // Code generation from strings can be disabled (--disallow-code-generation-from-strings).
    return (columns, i) => {
      const row: Record<string, unknown> = {};
      for (let j = 0; j < names.length; j++) {
        const v = columns[j]?.[i];
        setField(row, names[j] as string, missingAsNull ? (v ?? null) : v);
      }
      return row;
    };
  }
}
