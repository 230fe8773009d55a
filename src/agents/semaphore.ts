/**
 * A FIFO counting semaphore for live children: `take` runs `start` at once when a slot is
 * free, else queues it; `release` hands the slot to the oldest waiter. Excess work waits, it
 * never fails. `force` takes a slot even past the limit (a child resumed after a restart
 * was already live).
 */
export class Slots {
  private used = 0;
  private readonly queue: { key: string; start: () => void }[] = [];
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Slots in use. */
  get live(): number {
    return this.used;
  }

  /** Waiters. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Runs `start` now (returns true) or when a slot frees (returns false). */
  take(key: string, start: () => void): boolean {
    if (this.used < this.limit) {
      this.used++;
      start();
      return true;
    }
    this.queue.push({ key, start });
    return false;
  }

  /** Takes a slot regardless of the limit. */
  force(): void {
    this.used++;
  }

  /** Drops a queued waiter (a stopped child); true when it was queued. */
  cancel(key: string): boolean {
    const i = this.queue.findIndex((w) => w.key === key);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    return true;
  }

  /** Frees a slot; the oldest waiter starts in it. */
  release(): void {
    const next = this.queue.shift();
    if (next) next.start();
    else this.used = Math.max(0, this.used - 1);
  }
}
