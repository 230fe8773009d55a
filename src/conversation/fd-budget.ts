import { closeSync, openSync, readFileSync } from "node:fs";
import { isTaifengError, TaifengError } from "../errors.ts";

/** Options for an FdBudget. */
export interface FdBudgetOptions {
  /** Most descriptors the store holds at once (cached handles plus short-lived ones). */
  readonly maxOpen: number;
  /**
   * Longest an operation waits for a descriptor — for a slot of the budget, or while the
   * process is out of descriptors (`EMFILE`/`ENFILE`) — before it fails with a classified
   * `store_error` (`details.reason: "descriptors_exhausted"`).
   */
  readonly waitMs: number;
}

/** Counters of an FdBudget, for benchmarks and diagnostics. */
export interface FdBudgetStats {
  /** Slots taken now. */
  readonly open: number;
  /** Most slots ever taken at once. */
  readonly peak: number;
  /** Files opened (cache misses). */
  readonly opens: number;
  /** Idle handles closed to make room. */
  readonly evictions: number;
  /** The budget in force: `maxOpen`, lowered each time the process ran out of descriptors. */
  readonly limit: number;
  /** Operations that had to wait for a slot. */
  readonly waits: number;
  /** `EMFILE`/`ENFILE` met and retried. */
  readonly retries: number;
}

interface Cached {
  readonly path: string;
  readonly fd: number;
  users: number;
  /** Close as soon as the last user is done (the file was forgotten while in use). */
  doomed: boolean;
}

const EXHAUSTED = new Set(["EMFILE", "ENFILE"]);

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** True for the errors that mean "no descriptor available right now". */
export function isDescriptorShortage(err: unknown): boolean {
  return EXHAUSTED.has(errno(err) ?? "");
}

/**
 * The soft limit on open files of this process (`ulimit -n`), read from /proc on Linux;
 * undefined elsewhere.
 */
export function openFileLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1];
    return line === undefined || line === "unlimited" ? undefined : Number(line);
  } catch {
    return undefined;
  }
}

/**
 * The default budget: 128 descriptors, or a quarter of the process's open-file limit when
 * that is lower (so sockets, pipes and the rest of the process keep most of it), at least 8.
 */
export function defaultMaxOpen(): number {
  const limit = openFileLimit();
  return limit === undefined ? 128 : Math.max(8, Math.min(128, Math.floor(limit / 4)));
}

/**
 * A bounded set of file descriptors shared by everything a store opens. Transcript handles
 * are cached by path and closed least recently used first when a slot is needed; short-lived
 * uses (reading a file, taking a lock) take a slot for their duration. When every slot is
 * busy an operation waits; when the process itself is out of descriptors (`EMFILE`,
 * `ENFILE`, e.g. sockets took them) it lowers its own limit to three quarters of what it
 * holds, closes an idle handle or waits with backoff, and retries. Only after `waitMs` does it fail, with TaifengError `store_error` and
 * `details.reason: "descriptors_exhausted"`. See docs/decisions/1300-descriptor-budget.md.
 */
export class FdBudget {
  readonly maxOpen: number;
  readonly waitMs: number;
  private used = 0;
  private limit: number;
  private readonly cache = new Map<string, Cached>();
  /** Opens in flight, with how many more callers wait for each (counted as users when it opens). */
  private readonly opening = new Map<string, { promise: Promise<Cached>; joiners: number }>();
  private readonly waiters: (() => void)[] = [];
  private counters = { peak: 0, opens: 0, evictions: 0, waits: 0, retries: 0 };

  constructor(options: FdBudgetOptions) {
    this.maxOpen = Math.max(2, options.maxOpen);
    this.limit = this.maxOpen;
    this.waitMs = options.waitMs;
  }

  get stats(): FdBudgetStats {
    return { open: this.used, limit: this.limit, ...this.counters };
  }

  /**
   * Runs `fn` with a descriptor of `path`, opened with `flags` on a cache miss (default
   * `r+`) and kept for the next call. The descriptor stays open while `fn` runs. Errors of
   * `open` other than a shortage (`ENOENT`, `EEXIST`, ...) are thrown as they are.
   * `patient` waits for a slot without the `waitMs` bound (closing a thread at shutdown must
   * finish, however many threads close at once).
   */
  async withFd<T>(
    path: string,
    fn: (fd: number) => T | Promise<T>,
    flags = "r+",
    patient = false,
  ): Promise<T> {
    // The entry comes back already counting this caller as a user: were it counted only after
    // the await, another operation could close it in between and the descriptor number be
    // reused for another file, with this caller's write landing there.
    let entry: Cached;
    for (;;) {
      try {
        entry = await this.handle(path, flags, patient);
        break;
      } catch (err) {
        // A patient caller that joined an impatient caller's open tries again on its own.
        if (!(patient && isTaifengError(err) && err.details?.reason === "descriptors_exhausted")) throw err;
      }
    }
    try {
      return await fn(entry.fd);
    } finally {
      entry.users--;
      if (entry.users === 0) {
        if (entry.doomed) {
          if (this.cache.get(entry.path) === entry) this.cache.delete(entry.path);
          this.closeEntry(entry);
        }
        this.pump();
      }
    }
  }

  /**
   * Runs `fn`, which opens and closes descriptors of its own (at most one at a time), within
   * one slot. `fn` is run again when it fails for lack of descriptors, so it must be safe to
   * repeat from the start. `urgent` puts it ahead of every waiting operation (the log that
   * every turn waits for).
   */
  async withSlot<T>(what: string, fn: () => Promise<T>, urgent = false): Promise<T> {
    await this.acquire(what, urgent);
    try {
      return await this.retrying(what, fn);
    } finally {
      this.release();
    }
  }

  /**
   * Takes a slot for a descriptor held until `release` (e.g. a log segment). Waiting
   * operations are served first come, first served (`urgent` ones first), so a busy store
   * cannot starve one of them.
   */
  async acquire(what: string, urgent = false, patient = false): Promise<void> {
    if (this.waiters.length === 0 && (this.used < this.limit || this.evictIdle())) {
      this.take();
      return;
    }
    this.counters.waits++;
    await new Promise<void>((resolve, reject) => {
      const waiters = this.waiters;
      const timer = setTimeout(() => {
        const at = waiters.indexOf(grant);
        if (at >= 0) waiters.splice(at, 1);
        reject(
          exhausted(what, `all ${this.limit} descriptors of the store's budget stayed busy`, this.waitMs),
        );
      }, this.waitMs);
      function grant(): void {
        clearTimeout(timer);
        resolve();
      }
      if (urgent) waiters.unshift(grant);
      else waiters.push(grant);
      this.pump();
    });
  }

  /** Gives back a slot taken with `acquire` (or `withSlot`); the next waiter gets it. */
  release(): void {
    this.used--;
    this.pump();
  }

  /** Closes the cached handle of `path` (now, or when its last user is done). */
  forget(path: string): void {
    const entry = this.cache.get(path);
    if (!entry) return;
    this.cache.delete(path);
    if (entry.users > 0) {
      entry.doomed = true;
      return;
    }
    this.closeEntry(entry);
    this.pump();
  }

  /** Closes every idle cached handle; handles in use close when their user is done. */
  closeAll(): void {
    for (const path of [...this.cache.keys()]) this.forget(path);
  }

  /** The cached handle of `path`, opened if needed, with the caller counted as a user. */
  private handle(path: string, flags: string, patient: boolean): Promise<Cached> {
    const hit = this.cache.get(path);
    if (hit) {
      hit.users++;
      this.cache.delete(path);
      this.cache.set(path, hit); // most recently used last
      return Promise.resolve(hit);
    }
    const pending = this.opening.get(path);
    if (pending) {
      pending.joiners++;
      return pending.promise;
    }
    const record = { promise: undefined as unknown as Promise<Cached>, joiners: 0 };
    record.promise = this.openCached(path, flags, patient, () => 1 + record.joiners).finally(() =>
      this.opening.delete(path),
    );
    this.opening.set(path, record);
    return record.promise;
  }

  private async openCached(
    path: string,
    flags: string,
    patient: boolean,
    users: () => number,
  ): Promise<Cached> {
    await this.acquire(path, false, patient);
    let fd: number;
    try {
      // open(2) of a local file takes microseconds: done synchronously, it never queues in
      // libuv's thread pool ahead of the fsyncs that turns wait for.
      fd = await this.retrying(path, async () => openSync(path, flags));
    } catch (err) {
      this.release();
      throw err;
    }
    this.counters.opens++;
    const entry: Cached = { path, fd, users: users(), doomed: false };
    this.cache.set(path, entry);
    return entry;
  }

  /** Runs `fn`, retrying while the process is out of descriptors, until `waitMs`. */
  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.waitMs;
    let delay = 2;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (!isDescriptorShortage(err)) throw err;
        this.counters.retries++;
        // The process is out of descriptors while the store holds `used`: keep fewer from now
        // on, so the rest of the process (sockets, pipes, other files) gets some back.
        this.limit = Math.max(4, Math.min(this.limit, Math.floor(this.used * 0.75)));
        if (this.evictIdle()) continue;
        const left = deadline - Date.now();
        if (left <= 0)
          throw exhausted(what, `the process is out of file descriptors (${errno(err)})`, this.waitMs, err);
        await new Promise((r) => setTimeout(r, Math.min(delay, left)));
        delay = Math.min(delay * 2, 100);
      }
    }
  }

  /** Hands free slots (or slots of idle handles, closed for it) to waiting operations, in order. */
  private pump(): void {
    while (this.waiters.length > 0 && (this.used < this.limit || this.evictIdle())) {
      this.take();
      (this.waiters.shift() as () => void)();
    }
  }

  /** Closes the least recently used idle handle; false when every cached handle is busy. */
  private evictIdle(): boolean {
    for (const entry of this.cache.values()) {
      if (entry.users === 0) {
        this.cache.delete(entry.path);
        this.counters.evictions++;
        this.closeEntry(entry);
        return true;
      }
    }
    return false;
  }

  /** Closes a handle and frees its slot (without handing it on: callers pump). */
  private closeEntry(entry: Cached): void {
    try {
      closeSync(entry.fd);
    } catch {
      // close(2) releases the descriptor even when it reports an error
    }
    this.used--;
  }

  private take(): void {
    this.used++;
    if (this.used > this.counters.peak) this.counters.peak = this.used;
  }
}

function exhausted(what: string, why: string, waitMs: number, cause?: unknown): TaifengError {
  return new TaifengError(
    "store_error",
    `no file descriptor for ${what} within ${waitMs} ms: ${why}. Nothing was written or lost; ` +
      "retry later, raise the open-file limit (ulimit -n) or lower the store's maxOpenFiles",
    { cause, details: { reason: "descriptors_exhausted", code: errno(cause) ?? "budget", waitedMs: waitMs } },
  );
}
