import { execFile } from "node:child_process";
import { release as kernelRelease } from "node:os";
import type { FdBudget } from "./fd-budget.ts";
import { datasync } from "./jsonl-files.ts";
import type { GroupCommitLog } from "./wal.ts";

/** What a GroupSync needs. */
export interface GroupSyncOptions {
  /** The store directory: the file system whose transcripts are synced. */
  readonly dir: string;
  readonly budget: FdBudget;
  /**
   * Sync at least this many transcripts at once with one syncfs(2) of the store's file
   * system (`sync --file-system`) instead of one fdatasync each; `false` never does.
   */
  readonly syncfsMin: number | false;
  readonly warn: (message: string) => void;
}

/** Counters of a GroupSync. */
export interface GroupSyncStats {
  /** fdatasync calls on transcripts. */
  readonly fileSyncs: number;
  /** syncfs calls (each covers every transcript of the store). */
  readonly fsSyncs: number;
}

/**
 * True where syncfs reports write-back errors (Linux 5.8 and later); before that it returned
 * success even when pages failed to reach the disk.
 */
export function syncfsReportsErrors(release = kernelRelease(), platform = process.platform): boolean {
  if (platform !== "linux") return false;
  const [major = 0, minor = 0] = release.split(".").map((n) => Number.parseInt(n, 10));
  return major > 5 || (major === 5 && minor >= 8);
}

/**
 * Makes many transcripts durable at once: one syncfs of the file system for a large group
 * (Node has no syncfs binding, so coreutils' `sync --file-system` runs it), else fdatasync
 * of each, 8 at a time. A failed or missing syncfs falls back to the files one by one, so a
 * failure is always reported for the file it concerns. See docs/decisions/2601-grouped-release.md.
 */
export class GroupSync {
  private readonly options: GroupSyncOptions;
  private syncfsWorks: boolean;
  private fileSyncs = 0;
  private fsSyncs = 0;

  constructor(options: GroupSyncOptions) {
    this.options = options;
    this.syncfsWorks = options.syncfsMin !== false && syncfsReportsErrors();
  }

  get stats(): GroupSyncStats {
    return { fileSyncs: this.fileSyncs, fsSyncs: this.fsSyncs };
  }

  /**
   * Fsyncs the files; resolves with each one's failure (undefined when durable), in order,
   * and the number of fsync calls made (1 for a syncfs).
   */
  async syncFiles(paths: readonly string[]): Promise<{ errors: unknown[]; fsyncs: number }> {
    const min = this.options.syncfsMin;
    if (this.syncfsWorks && min !== false && paths.length >= min && (await this.syncfs()))
      return { errors: paths.map(() => undefined), fsyncs: 1 };
    const out: unknown[] = new Array(paths.length).fill(undefined);
    let fsyncs = 0;
    let next = 0;
    const worker = async () => {
      while (next < paths.length) {
        const i = next++;
        try {
          // Background work that a close waits for: it waits for a descriptor however long.
          await this.options.budget.withFd(paths[i] as string, (fd) => datasync(fd), "r+", true);
          this.fileSyncs++;
          fsyncs++;
        } catch (err) {
          out[i] = err;
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return { errors: out, fsyncs };
  }

  /** One syncfs of the store's file system; false (and never again) when it cannot run. */
  private syncfs(): Promise<boolean> {
    return new Promise((resolve) => {
      execFile("sync", ["--file-system", this.options.dir], (err, _out, stderr) => {
        if (!err) {
          this.fsSyncs++;
          return resolve(true);
        }
        // Out of descriptors or processes: this group goes file by file, the next tries again.
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EMFILE" || code === "ENFILE" || code === "EAGAIN") return resolve(false);
        this.syncfsWorks = false;
        this.options.warn(
          `sync --file-system ${this.options.dir} failed (${String(stderr).trim() || err.message}); transcripts are fsynced one by one from now on`,
        );
        resolve(false);
      });
    });
  }
}

/** A thread whose writer is closing, to be made durable in place and released in the log. */
export interface ReleaseRequest {
  readonly threadId: string;
  readonly path: string;
  /** The file was created by this writer: the directory entry must be durable too. */
  readonly created: boolean;
  /** Nothing was written since the transcript was last fsynced in place (by a log checkpoint). */
  readonly clean: boolean;
}

/**
 * Releases closing threads in groups: the threads whose writers close while a group is being
 * released form the next one, and a group costs one GroupSync of its transcripts, one
 * directory fsync when it holds new files, and one log batch of `release` records. A thread
 * is released only after its transcript (and directory entry) is durable in place, exactly
 * as when each writer did it alone (ADR 1301).
 */
export class ReleaseBatch {
  private readonly sync: GroupSync;
  private readonly wal: GroupCommitLog;
  private readonly syncDir: () => Promise<void>;
  private queue: { request: ReleaseRequest; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private running = false;
  private counters = { groups: 0, threads: 0, fsyncs: 0 };

  constructor(sync: GroupSync, wal: GroupCommitLog, syncDir: () => Promise<void>) {
    this.sync = sync;
    this.wal = wal;
    this.syncDir = syncDir;
  }

  /** Groups released, threads in them, and the fsyncs they cost (transcripts and directory). */
  get stats(): { readonly groups: number; readonly threads: number; readonly fsyncs: number } {
    return { ...this.counters };
  }

  /** Resolves once the thread's transcript is durable in place and its release is logged. */
  release(request: ReleaseRequest): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      if (!this.running) {
        this.running = true;
        // One tick of gathering: the writers a pool closes together share the group.
        setImmediate(() => void this.run());
      }
    });
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      const dirty = group.filter((g) => !g.request.clean);
      const synced = await this.sync.syncFiles(dirty.map((g) => g.request.path));
      this.counters.groups++;
      this.counters.threads += group.length;
      this.counters.fsyncs += synced.fsyncs;
      const failure = new Map<(typeof group)[number], unknown>();
      dirty.forEach((g, i) => {
        if (synced.errors[i] !== undefined) failure.set(g, synced.errors[i]);
      });
      if (group.some((g) => g.request.created && !failure.has(g))) {
        try {
          await this.syncDir();
          this.counters.fsyncs++;
        } catch (err) {
          for (const g of group) if (g.request.created && !failure.has(g)) failure.set(g, err);
        }
      }
      await Promise.all(
        group.map(async (g) => {
          if (failure.has(g)) return g.reject(failure.get(g));
          try {
            await this.wal.release(g.request.threadId);
            g.resolve();
          } catch (err) {
            g.reject(err);
          }
        }),
      );
    }
    this.running = false;
  }
}
