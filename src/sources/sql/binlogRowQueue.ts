import type { BinlogPoint, BinlogPosition, BinlogWindow } from "./binlogPosition.js";

/** A transaction whose row events are (or were) read. */
export interface OpenTx {
  readonly start: BinlogPoint;
  /** The snapshot windows that still decide its changes (see binlogPosition.ts). */
  readonly windows: readonly BinlogWindow[];
  /** Changes to the table seen in it. */
  changes: number;
  /** Changes at its start already handed out before the position it was resumed from. */
  readonly skip: number;
  /** The change number of its last queued row. */
  lastQueued: number;
  /** Once its commit was read: the point after it, which its last queued row's position becomes. */
  committed: BinlogPosition | undefined;
}

/**
 * Rows waiting to be handed out, in three parallel arrays (no object per row
 * besides the row): the row, its transaction, and its change number in it.
 * The position after row i is the one after the commit when i is its
 * transaction's last queued row and the commit was read, else (transaction
 * start, change number).
 */
export class RowQueue {
  rows: unknown[] = [];
  txs: OpenTx[] = [];
  changes: number[] = [];

  get length(): number {
    return this.rows.length;
  }

  push(row: unknown, tx: OpenTx, change: number): void {
    this.rows.push(row);
    this.txs.push(tx);
    this.changes.push(change);
    tx.lastQueued = change;
  }

  /** Takes the first `n` rows and the position after the last of them. */
  take(n: number): { rows: unknown[]; position: BinlogPosition } {
    const rows = this.rows.splice(0, n);
    const txs = this.txs.splice(0, n);
    const changes = this.changes.splice(0, n);
    const tx = txs[n - 1] as OpenTx;
    const change = changes[n - 1] as number;
    const position = change === tx.lastQueued && tx.committed !== undefined ? tx.committed : { ...tx.start, skip: change, windows: tx.windows };
    return { rows, position };
  }
}
