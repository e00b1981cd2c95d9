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
