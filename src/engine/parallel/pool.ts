import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Reply, Request } from "./protocol.js";

interface Waiter {
  resolve(r: Reply): void;
  reject(e: Error): void;
}

/** One aggregate worker thread; replies come back in request order. */
class AggregateWorker {
  private readonly worker: Worker;
  private readonly waiting: Waiter[] = [];
  private failure: Error | undefined;

  constructor(script: URL | string) {
    this.worker = typeof script === "string" ? new Worker(script, { eval: true }) : new Worker(script);
    // An idle worker must not keep the process alive; one with requests in flight must.
    this.worker.unref();
    this.worker.on("message", (r: Reply) => {
      const w = this.waiting.shift();
      if (this.waiting.length === 0) this.worker.unref();
      if (w === undefined) return;
      if (r.t === "error") {
        const e = new Error(`aggregate worker: ${r.message}`);
        if (r.stack !== undefined) e.stack = `${e.message}\n(worker) ${r.stack}`;
        w.reject(e);
      } else w.resolve(r);
    });
    const fail = (e: Error): void => {
      this.failure = e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    this.worker.on("error", (e) => fail(e instanceof Error ? e : new Error(String(e))));
    this.worker.on("exit", (code) => fail(new Error(`aggregate worker exited with code ${code}`)));
  }

  request(m: Request, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<Reply>((resolve, reject) => {
      if (this.waiting.length === 0) this.worker.ref();
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(m, transfer);
    });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * The process-wide aggregate worker threads, started on first use and kept
 * (unreferenced while idle) for later replays.
 */
export class WorkerPool {
  private static shared: WorkerPool | undefined;
  private readonly workers: AggregateWorker[] = [];
  private nextPart = 0;

  private constructor() {}

  static get(): WorkerPool {
    return (WorkerPool.shared ??= new WorkerPool());
  }

  /** The default number of aggregate workers: one per core beyond the main thread's (none on one core), at most 8. */
  static defaultSize(): number {
    return Math.max(0, Math.min(8, availableParallelism() - 1));
  }

  /** `n` workers (started if needed). */
  take(n: number): AggregateWorker[] {
    while (this.workers.length < n) this.workers.push(startWorker());
    return this.workers.slice(0, n);
  }

  newPartitionId(): number {
    return this.nextPart++;
  }

  /** Stops every worker (tests and shutdown; replays start new ones). */
  static async shutdown(): Promise<void> {
    const p = WorkerPool.shared;
    WorkerPool.shared = undefined;
    if (p !== undefined) await Promise.all(p.workers.map((w) => w.terminate()));
  }
}

export type { AggregateWorker };

/**
 * The worker script sits beside this module: compiled JavaScript in the
 * package; TypeScript when running from source (tests, tsx), which the worker
 * loads after registering tsx (a development dependency) for itself.
 */
function startWorker(): AggregateWorker {
  if (!import.meta.url.endsWith(".ts")) return new AggregateWorker(new URL("./aggregateWorker.js", import.meta.url));
  // The ESM build of tsx's API (require.resolve would find the CommonJS one).
  const tsx = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve("tsx/package.json")), "dist/esm/api/index.mjs")).href;
  const script = new URL("./aggregateWorker.ts", import.meta.url).href;
  return new AggregateWorker(`import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(script)}); });`);
}
