import type { ShedDef } from "../../plan/nodes.js";
import type { KeyStatus } from "./keyStatus.js";
import { mulberry32 } from "../../core/random.js";

/** Decides whether an arriving input of a key is worth queueing; `value` is the input's value for "moved". */
export type ShedPredicate = (key: KeyStatus, value: number | undefined) => boolean;

/**
 * The load-shedding predicates (true: keep the update):
 * - never: keep every update;
 * - sample: keep each with probability p (seeded: the same seed sheds the same updates);
 * - moved: keep when the value moved by more than the threshold since the key's last kept update;
 * - queried: keep when the key was read since its last computed update, or was never computed.
 */
export function shedPredicate(def: ShedDef): ShedPredicate {
  switch (def.kind) {
    case "never":
      return () => true;
    case "sample": {
      // Seeded, never Math.random: the same seed sheds the same updates.
      const random = def.random ?? mulberry32(def.seed);
      return () => random() < def.p;
    }
    case "moved":
      return (k, value) => k.lastValue === undefined || value === undefined || Math.abs(value - k.lastValue) > def.threshold;
    case "queried":
      return (k) => k.servedSeq < 0 || k.readsSince > 0;
  }
}
