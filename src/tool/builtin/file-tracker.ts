import { createHash } from "node:crypto";

/** A short fingerprint of file content. */
export function fingerprint(content: Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

/** Why a write was refused (or undefined when it may go ahead). */
export type WriteCheck = { readonly ok: true } | { readonly ok: false; readonly message: string };

/**
 * The read-before-write contract, per thread: a file that exists may be changed only if
 * this thread read it and it has not changed since (by content). New files need no read.
 * After a successful write the new content counts as read. State lives in memory: after a
 * restart the model reads files again before editing them.
 */
export class FileTracker {
  private readonly seen = new Map<string, Map<string, string>>();
  private readonly maxThreads: number;

  constructor(options: { maxThreads?: number } = {}) {
    this.maxThreads = options.maxThreads ?? 1024;
  }

  private key(root: string, rel: string): string {
    return `${root}\u0000${rel}`;
  }

  private thread(threadId: string): Map<string, string> {
    let files = this.seen.get(threadId);
    if (!files) {
      if (this.seen.size >= this.maxThreads) this.seen.delete(this.seen.keys().next().value as string);
      files = new Map();
      this.seen.set(threadId, files);
    } else {
      // Keep recently used threads (Map order = insertion order).
      this.seen.delete(threadId);
      this.seen.set(threadId, files);
    }
    return files;
  }

  /** Records that `threadId` saw `content` at `rel` in the workspace `root`. */
  record(threadId: string, root: string, rel: string, content: Uint8Array): void {
    this.thread(threadId).set(this.key(root, rel), fingerprint(content));
  }

  /** Forgets a file (deleted). */
  forget(threadId: string, root: string, rel: string): void {
    this.thread(threadId).delete(this.key(root, rel));
  }

  /**
   * Checks a planned change of an existing file whose current content is `current`
   * (undefined when the file does not exist: always fine).
   */
  check(threadId: string, root: string, rel: string, current: Uint8Array | undefined): WriteCheck {
    if (current === undefined) return { ok: true };
    const known = this.thread(threadId).get(this.key(root, rel));
    if (known === undefined) {
      return {
        ok: false,
        message: `Refusing to change ${rel}: you have not read it in this conversation. Read it with read_file first, then retry.`,
      };
    }
    if (known !== fingerprint(current)) {
      return {
        ok: false,
        message: `Refusing to change ${rel}: it changed since you last read it (another process or command modified it). Read it again with read_file, then retry your change against the new content.`,
      };
    }
    return { ok: true };
  }
}
