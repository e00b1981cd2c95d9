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

/** The median of some timings or rates (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? Number.NaN) + (s[mid] ?? Number.NaN)) / 2;
}
