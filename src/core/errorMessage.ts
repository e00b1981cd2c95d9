/**
 * The message of a caught error, for wrapping it in a typed one: drivers
 * throw AggregateErrors with an empty message (connection refused on every
 * address) and errors whose only detail is a code.
 */
export function messageOf(e: unknown): string {
  if (e instanceof AggregateError && e.message === "") return e.errors.map(messageOf).join("; ");
  if (e instanceof Error) return e.message !== "" ? e.message : "code" in e ? String(e.code) : e.name;
  return String(e);
}
