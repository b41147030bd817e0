/**
 * A single-consumer async queue: the producer pushes items and then ends or fails it; the
 * consumer reads with `next()`. Items pushed after the end are dropped.
 */
export class Channel<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  private done = false;
  private error: unknown = null;

  get closed(): boolean {
    return this.done;
  }

  push(item: T): void {
    if (this.done) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: item, done: false });
    } else this.items.push(item);
  }

  end(): void {
    this.settle(null);
  }

  fail(err: unknown): void {
    this.settle(err ?? new Error('channel failed'));
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.error) return Promise.reject(this.error);
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  private settle(err: unknown): void {
    if (this.done) return;
    this.done = true;
    this.error = err;
    const w = this.waiter;
    this.waiter = null;
    // Buffered items are still delivered before the end or the error.
    if (w) err ? w.reject(err) : w.resolve({ value: undefined, done: true });
  }
}
