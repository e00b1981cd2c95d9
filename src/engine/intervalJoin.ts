import { encodeKey } from "../core/keys.js";
import type { IntervalJoinNode, Row } from "../plan/nodes.js";
import type { Batch } from "./rowSteps.js";

interface Stored {
  readonly row: Row;
  readonly t: number;
}

/**
 * The state of an interval join: rows of each side by key. Each pair is made
 * once, when the later of its two rows arrives (so the set of pairs does not
 * depend on arrival order). A batch's rows are staged and only kept on
 * commit. Rows no future row of the other side can pair with are forgotten.
 */
export class IntervalJoinState {
  private readonly left = new Map<string, Stored[]>();
  private readonly right = new Map<string, Stored[]>();
  private stagedLeft = new Map<string, Stored[]>();
  private stagedRight = new Map<string, Stored[]>();

  constructor(
    private readonly node: IntervalJoinNode,
    /** The two sources' watermarks, for forgetting rows. */
    private readonly watermarks: () => { left: number; right: number },
  ) {}

  /** Pairs new left rows with the right rows kept and staged. */
  addLeft(b: Batch): Batch {
    return this.add(b, true);
  }

  /** Pairs new right rows with the left rows kept and staged. */
  addRight(b: Batch): Batch {
    return this.add(b, false);
  }

  private add({ rows, ts }: Batch, isLeft: boolean): Batch {
    const n = this.node;
    const outRows: Row[] = [];
    const outTs: number[] = [];
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as Row;
      const t = ts[i] as number;
      const key = encodeKey((isLeft ? n.on : n.otherOn).map((f) => row[f]));
      for (const o of [...((isLeft ? this.right : this.left).get(key) ?? []), ...((isLeft ? this.stagedRight : this.stagedLeft).get(key) ?? [])]) {
        const l = isLeft ? t : o.t;
        const r = isLeft ? o.t : t;
        if (r < l - n.lower || r > l + n.upper) continue;
        const out: Row = { ...(isLeft ? row : o.row) };
        const rr = isLeft ? o.row : row;
        for (const { from, as } of n.fields) out[as] = rr[from] ?? null;
        outRows.push(out);
        outTs.push(Math.max(l, r));
      }
      push(isLeft ? this.stagedLeft : this.stagedRight, key, { row, t });
    }
    return { rows: outRows, ts: Float64Array.from(outTs) };
  }

  commit(): void {
    for (const [k, list] of this.stagedLeft) for (const s of list) push(this.left, k, s);
    for (const [k, list] of this.stagedRight) for (const s of list) push(this.right, k, s);
    this.stagedLeft = new Map();
    this.stagedRight = new Map();
    // A future right row is at or after the right watermark, so it pairs with left rows from
    // (watermark − upper) on; a future left row at l pairs with right rows from l − lower.
    const w = this.watermarks();
    prune(this.left, w.right - this.node.upper);
    prune(this.right, w.left - this.node.lower);
  }

  rollback(): void {
    this.stagedLeft = new Map();
    this.stagedRight = new Map();
  }
}

function push(m: Map<string, Stored[]>, k: string, s: Stored): void {
  let l = m.get(k);
  if (l === undefined) m.set(k, (l = []));
  l.push(s);
}

function prune(m: Map<string, Stored[]>, before: number): void {
  if (!Number.isFinite(before)) return;
  for (const [k, list] of m) {
    const kept = list.filter((s) => s.t >= before);
    if (kept.length === 0) m.delete(k);
    else if (kept.length !== list.length) m.set(k, kept);
  }
}
