import { messageOf } from "../../core/errorMessage.js";

/**
 * The message of a Kafka driver error with its nested causes: the driver
 * wraps the useful part ("Connection to 127.0.0.1:9092 failed.") two levels
 * down in errors whose own message is only "metadata failed 3 times.".
 * Repeated messages (one per retry) are given once.
 */
export function kafkaErrorMessage(e: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  const walk = (err: unknown, depth: number): void => {
    if (depth > 4 || seen.has(err)) return;
    seen.add(err);
    const text = messageOf(err).replace(/\.$/, "");
    if (text !== "" && !parts.includes(text)) parts.push(text);
    if (err instanceof AggregateError) for (const inner of err.errors) walk(inner, depth + 1);
    if (err instanceof Error && err.cause !== undefined) walk(err.cause, depth + 1);
  };
  walk(e, 0);
  return parts.slice(0, 6).join(": ");
}
