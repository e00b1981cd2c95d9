import type { Layout } from "./layout.js";

/**
 * A generated kernel compiled once per layout: undefined where the layout has
 * no read kernel (sessions, tiles, window readers) or code generation failed.
 */
export function perLayout<K>(compile: (layout: Layout) => K | undefined): (layout: Layout) => K | undefined {
  const kernels = new WeakMap<Layout, K | null>();
  return (layout) => {
    if (layout.readKernel === undefined) return undefined;
    let k = kernels.get(layout);
    if (k === undefined) {
      k = compile(layout) ?? null;
      kernels.set(layout, k);
    }
    return k ?? undefined;
  };
}
