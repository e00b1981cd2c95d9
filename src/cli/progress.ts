import cliProgress from "cli-progress";

/**
 * A progress bar on a terminal (with events/s and ETA); on anything else, one
 * quiet line when a phase ends, so logs stay readable.
 */
export class PhaseProgress {
  private bar: cliProgress.SingleBar | undefined;
  private readonly started = performance.now();

  constructor(
    private readonly label: string,
    total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    if (out.isTTY === true) {
      this.bar = new cliProgress.SingleBar(
        {
          format: `${label.padEnd(22)} {bar} {percentage}% | {value}/{total} | {rate} ev/s | ETA {eta_formatted}`,
          stream: out,
          hideCursor: true,
          barsize: 24,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { rate: "0" });
    }
  }

  update(done: number): void {
    const secs = (performance.now() - this.started) / 1000;
    this.bar?.update(done, { rate: secs > 0 ? Math.round(done / secs).toLocaleString("en-US") : "0" });
  }

  /** Ends the phase; returns elapsed seconds. */
  stop(done: number): number {
    const secs = (performance.now() - this.started) / 1000;
    if (this.bar !== undefined) {
      this.update(done);
      this.bar.stop();
    } else {
      this.out.write(`${this.label}: ${done.toLocaleString("en-US")} in ${secs.toFixed(2)} s\n`);
    }
    return secs;
  }
}
