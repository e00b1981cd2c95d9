/**
 * A binary heap whose items can be found by id, so a changed priority is
 * restored in O(log n). `before(a, b)`: a is taken before b.
 */
export class IndexedHeap<T extends { readonly id: string }> {
  private readonly items: T[] = [];
  private readonly at = new Map<string, number>();

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  add(item: T): void {
    this.items.push(item);
    this.up(this.items.length - 1);
  }

  /** Restores the order after `item`'s priority changed (either way). */
  update(item: T): void {
    const i = this.at.get(item.id);
    if (i === undefined) return;
    this.down(this.up(i));
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top === undefined) return undefined;
    const last = this.items.pop() as T;
    this.at.delete(top.id);
    if (this.items.length > 0) {
      this.items[0] = last;
      this.down(0);
    }
    return top;
  }

  /** Moves the item at i towards the root while it goes before its parent; returns where it ends. */
  private up(i: number): number {
    const item = this.items[i] as T;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = this.items[parent] as T;
      if (!this.before(item, p)) break;
      this.place(p, i);
      i = parent;
    }
    this.place(item, i);
    return i;
  }

  /** Moves the item at i towards the leaves while a child goes before it. */
  private down(i: number): void {
    const n = this.items.length;
    const item = this.items[i] as T;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(this.items[r] as T, this.items[l] as T) ? r : l;
      const child = this.items[c] as T;
      if (!this.before(child, item)) break;
      this.place(child, i);
      i = c;
    }
    this.place(item, i);
  }

  private place(item: T, i: number): void {
    this.items[i] = item;
    this.at.set(item.id, i);
  }
}
