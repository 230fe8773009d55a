import { join } from "node:path";
import { TaifengError } from "../errors.ts";
import type { FdBudget } from "./fd-budget.ts";
import { acquireLock, type HeldLock, type ProcessIdentity } from "./lock-file.ts";

/** What ThreadOwnership needs from its store. */
export interface ThreadOwnershipInit {
  readonly dir: string;
  readonly self: ProcessIdentity;
  readonly budget: FdBudget;
  /** True while the store has a writer open on the thread. */
  readonly isOpen: (threadId: string) => boolean;
  /** Replays the logs of dead processes (after a lock is taken over from one). */
  readonly recover: () => Promise<unknown>;
}

/**
 * Who may write a thread of a JSONL store: one writer per thread in this process (a thread
 * being opened is reserved), and an exclusive `<threadId>.lock` file against every other
 * process (ADR 0302), held for the writer's whole life without a descriptor (ADR 1300).
 * Both refusals are TaifengError `thread_locked`.
 */
export class ThreadOwnership {
  private readonly init: ThreadOwnershipInit;
  private readonly reserved = new Set<string>();
  private closed = false;

  constructor(init: ThreadOwnershipInit) {
    this.init = init;
  }

  /** Refuses every later reservation (the store is closing). */
  close(): void {
    this.closed = true;
  }

  /** Runs `fn` with the thread reserved against a second writer in this process. */
  async reserve<T>(threadId: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new TaifengError("store_error", `the store for ${this.init.dir} is closed`);
    if (this.init.isOpen(threadId) || this.reserved.has(threadId)) {
      throw new TaifengError(
        "thread_locked",
        `thread ${threadId} is already open for writing in this process`,
      );
    }
    this.reserved.add(threadId);
    try {
      return await fn();
    } finally {
      this.reserved.delete(threadId);
    }
  }

  /**
   * Takes the thread's lock file (refused while another live process holds it). A lock left
   * by a dead process is taken over after its write-ahead log was replayed.
   */
  async lock(threadId: string): Promise<HeldLock> {
    const path = join(this.init.dir, `${threadId}.lock`);
    const lock = await this.init.budget.withSlot(`the lock of thread ${threadId}`, () =>
      acquireLock(path, `thread ${threadId}`, this.init.self),
    );
    // The previous holder died: what it logged but had not fsynced in place is replayed first.
    if (lock.tookOver) {
      try {
        await this.init.recover();
      } catch (err) {
        await lock.release();
        throw err;
      }
    }
    return lock;
  }
}
