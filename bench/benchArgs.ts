import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** A positive number given as `--name=value` on the command line, if any. */
export function numberArg(name: string): number | undefined {
  const a = process.argv.find((s) => s.startsWith(`--${name}=`));
  if (a === undefined) return undefined;
  const n = Number(a.slice(name.length + 3));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}

/** A full GC between measured runs (outside the timings), so that one run's garbage is not collected during the next. */
export const fullGc: () => void = (() => {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === "function") return exposed as () => void;
  setFlagsFromString("--expose-gc");
  const fn: unknown = runInNewContext("gc");
  return typeof fn === "function" ? (fn as () => void) : () => {};
})();

/**
 * A full GC, then a pause (1 s by default) before the next measured run: the
 * collection's concurrent sweeping and the memory it hands back run on after
 * `gc()` returns, and would otherwise be billed to the next run (on 2 cores,
 * to whichever side wanted the second core).
 */
export async function settle(ms = 1000): Promise<void> {
  fullGc();
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** The median of some timings or rates (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? Number.NaN) + (s[mid] ?? Number.NaN)) / 2;
}
