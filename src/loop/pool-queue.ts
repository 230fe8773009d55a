import { TaifengError } from "../errors.ts";

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * The line of opens waiting for a free engine, served first come, first served. `take` tries
 * to take a slot (it may evict); `wake` is called whenever one may have freed up (an engine
 * finished a turn, started waiting on a person, or closed). A slow poll covers anything that
 * frees a slot without an event.
 */
export class PoolQueue {
  private readonly take: () => boolean;
  private readonly waiters: Waiter[] = [];
  private scheduled = false;
  private poll: NodeJS.Timeout | undefined;

  constructor(take: () => boolean) {
    this.take = take;
  }

  get length(): number {
    return this.waiters.length;
  }

  /**
   * Waits until `take` succeeds for this waiter. Rejects with TaifengError `pool_exhausted`
   * after `timeoutMs` (0: at once) or when `signal` aborts.
   */
  wait(timeoutMs: number, signal: AbortSignal | undefined, max: number): Promise<void> {
    const busy = `all ${max} engines are busy (none idle or waiting on a person)`;
    if (timeoutMs <= 0)
      return Promise.reject(new TaifengError("pool_exhausted", `${busy}; raise maxEngines or retry later`));
    if (signal?.aborted)
      return Promise.reject(new TaifengError("pool_exhausted", `${busy}; the wait was cancelled`));
    return new Promise<void>((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        if (this.waiters.length === 0) this.stopPolling();
      };
      const waiter: Waiter = {
        resolve: () => {
          leave();
          resolve();
        },
        reject: (err) => {
          leave();
          reject(err);
        },
      };
      const timer = setTimeout(
        () =>
          waiter.reject(
            new TaifengError(
              "pool_exhausted",
              `${busy} and none freed up within ${timeoutMs} ms; raise maxEngines or queueTimeoutMs`,
            ),
          ),
        timeoutMs,
      );
      const onAbort = () =>
        waiter.reject(new TaifengError("pool_exhausted", `${busy}; the wait was cancelled`));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
      this.poll ??= setInterval(() => this.serve(), 250);
      this.poll.unref();
    });
  }

  /** A slot may have freed up: serve the line soon (once per tick, after the engine settled). */
  wake(): void {
    if (this.waiters.length === 0 || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.serve();
    });
  }

  /** Rejects every waiter (the pool closed). */
  failAll(err: unknown): void {
    for (const waiter of [...this.waiters]) waiter.reject(err);
  }

  private serve(): void {
    while (this.waiters.length > 0 && this.take()) (this.waiters[0] as Waiter).resolve();
  }

  private stopPolling(): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
  }
}
