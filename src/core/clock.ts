/**
 * The engine never reads the wall clock itself: a Clock is injected so every
 * window, watermark and TTL test is deterministic.
 */
export interface Clock {
  /** Current time, epoch milliseconds UTC. */
  now(): number;
}

/** The real wall clock: the default for online reads. */
export const wallClock: Clock = { now: () => Date.now() };

/** A clock a test or a replay moves by hand. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start = 0) {
    this.current = start;
  }
  now(): number {
    return this.current;
  }
  set(ms: number): void {
    this.current = ms;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}
