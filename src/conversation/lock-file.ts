import { randomUUID } from "node:crypto";
import { linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { TaifengError } from "../errors.ts";

/** Who holds a lock file: written into it as JSON. */
export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  /** The process start time (Linux `/proc/<pid>/stat` field 22), to tell a reused pid apart. */
  readonly start?: string | undefined;
  readonly token: string;
  /** When the lock was taken, ms since the epoch. */
  readonly since: number;
}

/** This process, as it identifies itself in lock files. */
export interface ProcessIdentity {
  readonly pid: number;
  readonly host: string;
  readonly start: string | undefined;
}

/** A lock file this process holds. */
export interface HeldLock {
  readonly path: string;
  readonly owner: LockOwner;
  /**
   * True when the lock was taken over from a dead process: whatever that process logged but
   * had not yet made durable in place (its write-ahead log) must be replayed before use.
   */
  readonly tookOver: boolean;
  /** Removes the lock file. Idempotent; never throws. */
  release(): Promise<void>;
}

/**
 * A lock file whose content cannot be parsed (never written by this module, which links
 * complete files into place; e.g. a truncated copy) is treated as stale once it is this old.
 */
const UNREADABLE_STALE_MS = 5_000;

/** Start time of a process from /proc (Linux); undefined elsewhere or when it is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19];
  } catch {
    return undefined;
  }
}

/** Identifies the current process for lock files. */
export function currentProcess(): ProcessIdentity {
  return { pid: process.pid, host: hostname(), start: processStartTime(process.pid) };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * True when the owner is certainly gone: same host, and its pid is dead or now belongs to a
 * process that started at another time. A lock held on another host is never stale (we
 * cannot tell), and neither is one held by this very process.
 */
export function isStaleOwner(owner: LockOwner, self: ProcessIdentity): boolean {
  if (owner.host !== self.host) return false;
  if (owner.pid === self.pid) return false;
  if (!isAlive(owner.pid)) return true;
  if (owner.start === undefined) return false;
  const start = processStartTime(owner.pid);
  return start !== undefined && start !== owner.start;
}

type Holder = { kind: "owner"; owner: LockOwner } | { kind: "unreadable"; ageMs: number } | { kind: "gone" };

async function readHolder(path: string): Promise<Holder> {
  try {
    const text = readFileSync(path, "utf8");
    const info = statSync(path);
    try {
      const value = JSON.parse(text) as Partial<LockOwner>;
      if (typeof value.pid === "number" && typeof value.host === "string" && typeof value.token === "string")
        return { kind: "owner", owner: value as LockOwner };
    } catch {
      // fall through: not written by acquireLock (a damaged or hand-made file)
    }
    return { kind: "unreadable", ageMs: Date.now() - info.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "gone" };
    throw err;
  }
}

/**
 * Creates `path` holding `content`, failing when it exists. The content is written to a
 * private file first and hard-linked into place (link(2) is atomic and refuses an existing
 * name), so nobody ever sees a lock file without its owner. The calls are synchronous: on a
 * local file system each takes microseconds, far less than a trip through libuv's thread
 * pool, where they would queue ahead of the fsyncs turns wait for (ADR 1300).
 */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const temp = `${path}.${randomUUID()}.tmp`;
  writeFileSync(temp, content, { flag: "wx" });
  try {
    linkSync(temp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    await removeQuietly(temp);
  }
}

async function removeQuietly(path: string): Promise<void> {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * Removes a stale lock. A guard file makes the check-then-remove atomic against other
 * processes doing the same: only the guard's holder may remove the lock it examined.
 * Returns false when someone else is taking the lock over right now (a guard left by a
 * dead process is removed, so the caller's next attempt can proceed).
 */
async function takeOver(path: string, stale: Holder, self: ProcessIdentity): Promise<boolean> {
  const guard = `${path}.takeover`;
  const mine: LockOwner = { ...self, token: randomUUID(), since: Date.now() };
  if (!(await createExclusive(guard, JSON.stringify(mine)))) {
    const other = await readHolder(guard);
    if (other.kind === "owner" && isStaleOwner(other.owner, self)) await removeQuietly(guard);
    else if (other.kind === "unreadable" && other.ageMs > UNREADABLE_STALE_MS) await removeQuietly(guard);
    return false;
  }
  try {
    const now = await readHolder(path);
    const same =
      (now.kind === "owner" && stale.kind === "owner" && now.owner.token === stale.owner.token) ||
      (now.kind === "unreadable" && stale.kind === "unreadable");
    if (same) await removeQuietly(path);
    return true;
  } finally {
    await removeQuietly(guard);
  }
}

function lockedError(label: string, path: string, holder: Holder): TaifengError {
  const who =
    holder.kind === "owner"
      ? `process ${holder.owner.pid} on ${holder.owner.host} since ${new Date(holder.owner.since).toISOString()}`
      : "another process";
  return new TaifengError(
    "thread_locked",
    `${label} is locked for writing by ${who} (lock file ${path}). Only one process may write a thread; ` +
      "it can still be read. If that process is gone, delete the lock file.",
    { details: { lockFile: path, ...(holder.kind === "owner" ? { owner: holder.owner } : {}) } },
  );
}

/**
 * Takes an exclusive lock file (linked into place atomically, holding this process's identity).
 * A lock left by a dead process on this host is taken over safely. Throws TaifengError
 * `thread_locked` naming the holder when another live process has it.
 */
export async function acquireLock(path: string, label: string, self: ProcessIdentity): Promise<HeldLock> {
  const owner: LockOwner = { ...self, token: randomUUID(), since: Date.now() };
  let tookOver = false;
  for (let attempt = 0; attempt < 4; attempt++) {
    if (await createExclusive(path, JSON.stringify(owner))) {
      let released = false;
      return {
        path,
        owner,
        tookOver,
        async release() {
          if (released) return;
          released = true;
          await removeQuietly(path);
        },
      };
    }
    const holder = await readHolder(path);
    if (holder.kind === "gone") continue;
    const stale =
      holder.kind === "owner" ? isStaleOwner(holder.owner, self) : holder.ageMs > UNREADABLE_STALE_MS;
    if (!stale) throw lockedError(label, path, holder);
    tookOver = true;
    await takeOver(path, holder, self);
  }
  throw lockedError(label, path, await readHolder(path));
}
