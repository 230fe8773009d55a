import { join } from "node:path";
import { defaultMaxOpen, FdBudget } from "./fd-budget.ts";
import { GroupSync, ReleaseBatch, type ReleaseRequest } from "./group-sync.ts";
import { coalesced, syncDirectory } from "./jsonl-files.ts";
import type { JsonlStoreOptions, JsonlStoreStats } from "./jsonl-options.ts";
import type { JsonlWriter } from "./jsonl-writer.ts";
import type { ProcessIdentity } from "./lock-file.ts";
import type { Durability } from "./store.ts";
import { GroupCommitLog } from "./wal.ts";
import { type RecoveryReport, recoverOrphans } from "./wal-recovery.ts";

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** What StoreDurability needs from its store. */
export interface StoreDurabilityInit {
  readonly options: JsonlStoreOptions;
  readonly durability: Durability;
  readonly self: ProcessIdentity;
  /** Names a file of the store may have: transcripts' thread ids. */
  readonly threadId: RegExp;
  /** The open writer of a thread in this store, if any. */
  readonly writerOf: (threadId: string) => JsonlWriter | undefined;
  readonly warn: (message: string) => void;
}

/**
 * How a JsonlThreadStore's bytes become durable and come back after a crash: the descriptor
 * budget (ADR 1300), the group-committed write-ahead log (ADR 1301), closing threads released
 * in groups (ADR 2601) and the replay of dead processes' logs. The store keeps the threads
 * (writers, ownership, the directory); this keeps the files safe.
 */
export class StoreDurability {
  readonly budget: FdBudget;
  /** Undefined under durability `none` or with `groupCommit: false`. */
  readonly wal: GroupCommitLog | undefined;
  /** Fsyncs the store directory (coalesced: callers arriving meanwhile share the next one). */
  readonly syncStoreDir: () => Promise<void>;
  private readonly init: StoreDurabilityInit;
  private readonly groupSync: GroupSync;
  private readonly releases: ReleaseBatch | undefined;
  private readonly syncWalDir: () => Promise<void>;
  /** Threads closed without their logged lines made durable in place (their segments must stay). */
  private readonly undurable = new Set<string>();
  private recovery: Promise<RecoveryReport> | undefined;
  private started: Promise<unknown> | undefined;
  private transcriptSyncs = 0;

  constructor(init: StoreDurabilityInit) {
    this.init = init;
    const { options } = init;
    const dir = options.dir;
    this.budget = new FdBudget({
      maxOpen: options.maxOpenFiles ?? defaultMaxOpen(),
      waitMs: options.fdWaitMs ?? 30_000,
    });
    // Directory fsyncs gate acknowledgements (a new log segment, a checkpoint): they go first.
    this.syncStoreDir = coalesced(() => this.budget.withSlot(dir, () => syncDirectory(dir), true));
    const walDir = join(dir, "wal");
    this.syncWalDir = coalesced(() => this.budget.withSlot(walDir, () => syncDirectory(walDir), true));
    this.groupSync = new GroupSync({
      dir,
      budget: this.budget,
      syncfsMin: options.syncfsMin ?? 64,
      warn: init.warn,
    });
    this.wal =
      init.durability === "none" || options.groupCommit === false
        ? undefined
        : new GroupCommitLog({
            dir,
            self: init.self,
            budget: this.budget,
            checkpointBytes: options.walCheckpointBytes ?? 32 * 2 ** 20,
            checkpointMs: options.walCheckpointMs ?? 5_000,
            syncTranscripts: (threadIds) => this.syncTranscripts(threadIds),
            syncDir: (path) => (path === dir ? this.syncStoreDir() : this.syncWalDir()),
            warn: init.warn,
          });
    this.releases = this.wal && new ReleaseBatch(this.groupSync, this.wal, () => this.syncStoreDir());
  }

  /** The writer's closing release, grouped (undefined without the log). */
  get release(): ((request: ReleaseRequest) => Promise<void>) | undefined {
    const releases = this.releases;
    return releases && ((request) => releases.release(request));
  }

  /** A writer fsynced its transcript itself (no log). */
  countTranscriptSync(): void {
    this.transcriptSyncs++;
  }

  /** A writer closed without its logged lines made durable in place: its log segments must stay. */
  closedUndurable(threadId: string): void {
    this.undurable.add(threadId);
  }

  stats(): Omit<JsonlStoreStats, "directory"> {
    return {
      fds: this.budget.stats,
      wal: this.wal?.stats,
      transcriptSyncs: this.transcriptSyncs + (this.releases?.stats.fsyncs ?? 0),
      releases: this.releases?.stats,
    };
  }

  /**
   * Replays the write-ahead logs dead processes left in the directory (see wal-recovery.ts).
   * Runs once before the store's first operation, and again whenever a thread's lock is
   * taken over from a dead process.
   */
  recover(): Promise<RecoveryReport> {
    const previous = this.recovery?.catch(() => undefined) ?? Promise.resolve(undefined);
    const run = previous.then(() =>
      recoverOrphans({
        dir: this.init.options.dir,
        self: this.init.self,
        budget: this.budget,
        threadId: this.init.threadId,
        syncDir: () => this.syncStoreDir(),
        warn: this.init.warn,
        waitMs: this.init.options.fdWaitMs ?? 30_000,
      }),
    );
    this.recovery = run;
    return run;
  }

  /** The first recovery, run once; every operation of the store waits for it. */
  ready(): Promise<unknown> {
    this.started ??= this.recover().then((report) => {
      if (report.repaired.length > 0)
        this.init.warn(
          `replayed the write-ahead log of a process that stopped: ${report.repaired.length} transcript(s) restored (${report.repaired.slice(0, 5).join(", ")})`,
        );
    });
    return this.started;
  }

  /** After the writers closed: waits for recovery, retires the log, closes every descriptor. */
  async close(): Promise<PromiseSettledResult<void>[]> {
    await this.recovery?.catch(() => {});
    const results = this.wal ? await Promise.allSettled([this.wal.close()]) : [];
    this.budget.closeAll();
    return results;
  }

  /** Fsyncs the transcripts of open threads as a group, for a checkpoint of the log. */
  private async syncTranscripts(threadIds: readonly string[]): Promise<{ fsyncs: number; failed: unknown }> {
    for (const threadId of threadIds)
      if (this.undurable.has(threadId))
        return {
          fsyncs: 0,
          failed: new Error(`thread ${threadId} was closed without its lines made durable`),
        };
    // Released threads were fsynced when they closed (or deleted); what is written after
    // `at` is read here may not be covered, so only `at` counts as durable in place.
    const open = threadIds.flatMap((threadId) => {
      const writer = this.init.writerOf(threadId);
      return writer ? [{ writer, at: writer.bytesWritten }] : [];
    });
    const synced = await this.groupSync.syncFiles(open.map((o) => o.writer.path));
    let failed: unknown;
    open.forEach((o, i) => {
      const err = synced.errors[i];
      if (err === undefined) o.writer.syncedInPlace(o.at);
      else if (errno(err) !== "ENOENT") failed ??= err;
    });
    return { fsyncs: synced.fsyncs, failed };
  }
}
