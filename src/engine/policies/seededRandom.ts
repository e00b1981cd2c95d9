import { mulberry32 } from "../../core/random.js";

/**
 * A seeded PRNG (mulberry32) for policies that sample: the engine never
 * calls Math.random, so a policy's choices replay exactly from its seed.
 */
export function seededRandom(seed: number): () => number {
  return mulberry32(seed);
}
