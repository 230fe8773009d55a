import type { FdBudgetStats } from "./fd-budget.ts";
import type { CommitInfo } from "./jsonl-writer.ts";
import type { Durability } from "./store.ts";
import type { GroupCommitStats } from "./wal.ts";

/** Options for a JsonlThreadStore. Only `dir` is required. */
export interface JsonlStoreOptions {
  /** Directory holding `<threadId>.jsonl` transcripts, their lock files and `index.sqlite`. Created if missing. */
  readonly dir: string;
  /** Default `turn`. See Durability. */
  readonly durability?: Durability;
  /** Longest time appended lines wait before a background write (modes `turn`, `none`). Default 25 ms. */
  readonly batchDelayMs?: number;
  /** Queued bytes that trigger a write at once. Default 256 KiB. */
  readonly maxBatchBytes?: number;
  /** Keep the SQLite thread directory up to date. Default true. */
  readonly index?: boolean;
  /**
   * Rows of flushed threads are written to the directory in one transaction at most this
   * often (and before every listing and on close). Default 200 ms.
   */
  readonly indexDelayMs?: number;
  /**
   * Most bytes of artifacts (full texts of capped tool outputs) kept per thread, beside its
   * transcript in `<dir>/<threadId>.artifacts/`; the oldest go first. Default 64 MiB.
   */
  readonly maxArtifactBytes?: number;
  /** Hears about problems that lose nothing: an index rebuilt, a row that could not be updated. */
  readonly onWarning?: (message: string) => void;
  /**
   * Called whenever a thread's lines reach the durability the mode promises: fsynced under
   * `turn` (at each flush) and `item` (after every batch), written to the OS under `none`.
   * Lines counted here are acknowledged: they survive a crash (see the persistence guide).
   */
  readonly onCommitted?: (commit: CommitInfo) => void;
  /**
   * Durability `turn`/`item` through one process-level write-ahead log whose fsyncs are
   * shared by every thread (group commit), instead of an fsync of each transcript. Default
   * true. See docs/decisions/1301-group-commit-wal.md.
   */
  readonly groupCommit?: boolean;
  /**
   * Most file descriptors the store holds at once (transcripts are opened on demand and the
   * least recently used idle one is closed). Default 128, or a quarter of `ulimit -n` when
   * that is lower. See docs/decisions/1300-descriptor-budget.md.
   */
  readonly maxOpenFiles?: number;
  /**
   * How long an operation waits for a descriptor while nothing is freed (budget stuck), or
   * while the process is out of them (`EMFILE`/`ENFILE`), before it fails with `store_error`
   * (`details.reason: "descriptors_exhausted"`). Closing a thread always waits. Default 30 s.
   */
  readonly fdWaitMs?: number;
  /**
   * Writers closing together (a pool closing or evicting many sessions) make their
   * transcripts durable as a group: from this many at once, with one syncfs(2) of the
   * store's file system instead of an fdatasync each (Linux 5.8+, where syncfs reports
   * write-back errors; `false` never). Default 64. See docs/decisions/2601-grouped-release.md.
   */
  readonly syncfsMin?: number | false;
  /** A write-ahead log segment is checkpointed past this size. Default 32 MiB. */
  readonly walCheckpointBytes?: number;
  /** ... or at the latest this long after its first record. Default 5 s. */
  readonly walCheckpointMs?: number;
}

/** Counters of a JsonlThreadStore (for benchmarks and diagnostics). */
export interface JsonlStoreStats {
  readonly fds: FdBudgetStats;
  /** Undefined without group commit. */
  readonly wal: GroupCommitStats | undefined;
  /**
   * Transcript fsyncs by writers: at close (group commit: grouped, a syncfs counting as one,
   * the directory fsync of new threads included), or at every flush without it.
   */
  readonly transcriptSyncs: number;
  /** Write transactions and row writes of the SQLite directory (undefined with `index: false`). */
  readonly directory?: { readonly transactions: number; readonly writes: number } | undefined;
  /** Closing threads released in groups (undefined without group commit). */
  readonly releases:
    | { readonly groups: number; readonly threads: number; readonly fsyncs: number }
    | undefined;
}
