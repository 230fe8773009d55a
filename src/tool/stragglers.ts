/**
 * Tool calls that were answered (timed out, aborted) while their `execute` was still
 * running. A call keeps its side of the read/write lock until its `execute` really settles
 * (for bash: until its process group is dead), so an exclusive call that ignores its signal
 * cannot overlap the next one, in the same batch or in a later step or turn of the engine.
 */

import { formatDuration } from "./call-context.ts";

/** How long a later call waits for a straggler before it is refused. */
export const STRAGGLER_WAIT_MS = 5000;

/** A call answered while its execute still runs. */
export interface Straggler {
  readonly tool: string;
  readonly callId: string;
  readonly exclusive: boolean;
}

/** The engine's stragglers (one set per engine, shared by all its batches). */
export class Stragglers {
  /** How long a conflicting call waits for a straggler before it is refused. */
  readonly waitMs: number;
  private readonly running = new Set<Straggler>();
  private waiters: (() => void)[] = [];

  constructor(options: { waitMs?: number } = {}) {
    this.waitMs = options.waitMs ?? STRAGGLER_WAIT_MS;
  }

  /** Tracks `settled` (the call's execute) until it settles. */
  add(call: Straggler, settled: PromiseLike<unknown>): void {
    this.running.add(call);
    const done = () => {
      this.running.delete(call);
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    };
    settled.then(done, done);
  }

  /** The first straggler a call of this kind must wait for: any for an exclusive call, an exclusive one for a shared call. */
  blocking(exclusive: boolean): Straggler | undefined {
    for (const s of this.running) if (exclusive || s.exclusive) return s;
    return undefined;
  }

  /** Resolves when something settles, or after `ms` (or when `signal` fires). */
  change(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      signal.addEventListener("abort", finish, { once: true });
      this.waiters.push(finish);
    });
  }

  /** What a call refused because of `blocker` is told. */
  refusal(blocker: Straggler): string {
    return `Tool call not run: ${blocker.tool} (call ${blocker.callId}) was stopped but is still running after ${formatDuration(this.waitMs)}, and this call could conflict with it. Try again once it has ended.`;
  }

  /** True while any straggler runs. */
  get size(): number {
    return this.running.size;
  }
}
