import { type FileHandle, open, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { describeError, isTaifengError, TaifengError } from "../errors.ts";
import type { FdBudget } from "./fd-budget.ts";
import { acquireLock, type LockOwner, type ProcessIdentity } from "./lock-file.ts";
import { WAL_DIR } from "./wal.ts";
import { decodeSegment, type WalRecord } from "./wal-format.ts";

/** What replaying the logs of dead processes did. */
export interface RecoveryReport {
  /** Segments replayed and deleted. */
  readonly segments: number;
  /** Write records that still applied (after the thread's last release or delete). */
  readonly records: number;
  /** Transcripts whose bytes differed from the log and were rewritten from it. */
  readonly repaired: string[];
}

/** What recovery needs from the store. */
export interface RecoveryOptions {
  readonly dir: string;
  readonly self: ProcessIdentity;
  readonly budget: FdBudget;
  /** Valid thread ids (the store's file-name rule). */
  readonly threadId: RegExp;
  readonly syncDir: (path: string) => Promise<void>;
  readonly warn: (message: string) => void;
  /** Longest wait for another live process that is replaying a log right now. */
  readonly waitMs: number;
}

type WriteRecord = Extract<WalRecord, { kind: "write" }>;

const SEGMENT = /^(.+)-(\d{6,})\.wal$/;
const OWNER_LOCK = /^(\d+\.[0-9a-f]{8})\.lock$/;

/**
 * Replays and deletes the write-ahead logs of processes that died (their log lock is stale),
 * so every transcript holds at least every byte those processes acknowledged. A log whose
 * owner lives is left alone; one that another live process is replaying right now is waited
 * for (up to `waitMs`), so the caller never reads a transcript that recovery may still change.
 * Call before reading or writing a thread whose lock was taken over from a dead process.
 */
export async function recoverOrphans(options: RecoveryOptions): Promise<RecoveryReport> {
  const walDir = join(options.dir, WAL_DIR);
  const report = { segments: 0, records: 0, repaired: [] as string[] };
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    const owners = await segmentOwners(walDir, options.budget);
    let busy: LockOwner | undefined;
    for (const owner of owners) {
      const holder = await recoverOwner(walDir, owner, options, report);
      if (holder !== undefined && String(holder.pid) !== owner.split(".")[0]) busy = holder;
    }
    if (busy === undefined) return report;
    if (Date.now() > deadline) {
      throw new TaifengError(
        "store_error",
        `the write-ahead log in ${walDir} is being replayed by process ${busy.pid} on ${busy.host} and did not finish within ${options.waitMs} ms; retry later`,
        { details: { walDir, owner: busy } },
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function segmentOwners(walDir: string, budget: FdBudget): Promise<Set<string>> {
  const owners = new Set<string>();
  let names: string[];
  try {
    names = await budget.withSlot(walDir, () => readdir(walDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return owners;
    throw err;
  }
  for (const name of names) {
    // A lock without segments (its owner died after a checkpoint) is taken and removed too.
    const owner = SEGMENT.exec(name)?.[1] ?? OWNER_LOCK.exec(name)?.[1];
    if (owner !== undefined) owners.add(owner);
  }
  return owners;
}

/** Replays one owner's segments when its lock can be taken; else returns who holds it. */
async function recoverOwner(
  walDir: string,
  owner: string,
  options: RecoveryOptions,
  report: { segments: number; records: number; repaired: string[] },
): Promise<LockOwner | undefined> {
  let lock: Awaited<ReturnType<typeof acquireLock>>;
  try {
    lock = await options.budget.withSlot("a write-ahead log lock", () =>
      acquireLock(join(walDir, `${owner}.lock`), `write-ahead log ${owner}`, options.self),
    );
  } catch (err) {
    if (isTaifengError(err, "thread_locked"))
      return (err.details?.owner as LockOwner | undefined) ?? undefined;
    throw err;
  }
  try {
    const names = (await options.budget.withSlot(walDir, () => readdir(walDir)))
      .filter((name) => SEGMENT.exec(name)?.[1] === owner)
      .sort();
    const records: WalRecord[] = [];
    for (const name of names) {
      const buf = await options.budget.withSlot(name, () => readFile(join(walDir, name)));
      records.push(...decodeSegment(buf).records);
    }
    await replay(records, options, report);
    for (const name of names) await unlink(join(walDir, name)).catch(() => {});
    report.segments += names.length;
  } finally {
    await lock.release();
  }
  return undefined;
}

async function replay(
  records: WalRecord[],
  options: RecoveryOptions,
  report: { records: number; repaired: string[] },
): Promise<void> {
  // Records of different threads touch different files: only each thread's order matters.
  const byThread = new Map<string, WriteRecord[]>();
  for (const record of records) {
    if (record.kind === "write") {
      const list = byThread.get(record.threadId) ?? [];
      list.push(record);
      byThread.set(record.threadId, list);
    } else byThread.delete(record.threadId); // released or deleted: earlier records are settled
  }
  let created = false;
  for (const [threadId, writes] of byThread) {
    if (!options.threadId.test(threadId)) {
      options.warn(
        `write-ahead log names an invalid thread id ${JSON.stringify(threadId)}; its records are skipped`,
      );
      continue;
    }
    report.records += writes.length;
    const path = join(options.dir, `${threadId}.jsonl`);
    try {
      const result = await options.budget.withSlot(path, () => applyWrites(path, writes));
      if (result === "created") created = true;
      if (result !== "same") report.repaired.push(threadId);
    } catch (err) {
      options.warn(`replaying the write-ahead log into ${path} failed: ${describeError(err)}`);
    }
  }
  if (created) await options.syncDir(options.dir);
}

/** Makes the file hold every logged byte; fsyncs it when anything changed. */
async function applyWrites(path: string, writes: WriteRecord[]): Promise<"same" | "repaired" | "created"> {
  let handle: FileHandle;
  let created = false;
  try {
    handle = await open(path, "r+");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT" || writes[0]?.offset !== 0) throw err;
    handle = await open(path, "wx+");
    created = true;
  }
  try {
    let changed = created;
    let size = (await handle.stat()).size;
    for (const { offset, data } of writes) {
      if (offset > size)
        throw new Error(
          `the file ends at byte ${size}, before logged bytes at ${offset} (was it truncated by hand?)`,
        );
      const have = Buffer.alloc(Math.min(data.length, size - offset));
      if (have.length > 0) await handle.read(have, 0, have.length, offset);
      if (have.length === data.length && have.equals(data)) continue;
      await handle.write(data, 0, data.length, offset);
      size = Math.max(size, offset + data.length);
      changed = true;
    }
    if (changed) await handle.datasync();
    return created ? "created" : changed ? "repaired" : "same";
  } finally {
    await handle.close();
  }
}
