import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { newId } from "../protocol/index.ts";

/** A saved full tool output. */
export interface ArtifactRef {
  readonly id: string;
  readonly chars: number;
  readonly lines: number;
}

/**
 * Where the full text of truncated tool outputs is kept, per thread. A ThreadStore may keep
 * them with its threads (`ThreadStore.artifacts`): the engine then uses those by default, so
 * they survive a restart, an eviction or `taifeng run --thread` like the transcript does.
 */
export interface ArtifactStore {
  /** Saves `content` for `threadId` and returns its reference. */
  save(threadId: string, content: string, meta: { tool: string; callId: string }): Promise<ArtifactRef>;
  /** The content of an artifact of `threadId`, or undefined (unknown id, other thread, evicted). */
  read(threadId: string, id: string): Promise<string | undefined>;
}

/** The form of every artifact id. */
export const ARTIFACT_ID = /^art_[A-Za-z0-9]+$/;
const ID = ARTIFACT_ID;

/**
 * The id of an artifact: derived from the thread, the call and the content, so saving the
 * same output again (a retried save, a resumed turn) gives the same id and the text that
 * names it, and so the prompt, stays byte-identical.
 */
export function artifactId(threadId: string, callId: string, content: string): string {
  const hash = createHash("sha256").update(threadId).update("\0").update(callId).update("\0").update(content);
  return `art_${hash.digest("hex").slice(0, 24)}`;
}

function ref(id: string, content: string): ArtifactRef {
  let lines = content.length === 0 ? 0 : 1;
  for (let i = content.indexOf("\n"); i >= 0 && i < content.length - 1; i = content.indexOf("\n", i + 1))
    lines++;
  return { id, chars: content.length, lines };
}

/**
 * Artifacts in memory, evicting the oldest once `maxChars` in total are held (default
 * 64 Mi characters). For tests and short-lived processes: artifacts do not survive a restart.
 */
export class MemoryArtifactStore implements ArtifactStore {
  private readonly maxChars: number;
  private readonly items = new Map<string, { threadId: string; content: string }>();
  private held = 0;

  constructor(options: { maxChars?: number } = {}) {
    this.maxChars = options.maxChars ?? 64 * 1024 * 1024;
  }

  async save(
    threadId: string,
    content: string,
    _meta?: { tool: string; callId: string },
  ): Promise<ArtifactRef> {
    const id = newId("art");
    const at = `${threadId}\0${id}`;
    this.items.set(at, { threadId, content });
    this.held += content.length;
    for (const [key, item] of this.items) {
      if (this.held <= this.maxChars || key === at) break;
      this.items.delete(key);
      this.held -= item.content.length;
    }
    return ref(id, content);
  }

  async read(threadId: string, id: string): Promise<string | undefined> {
    return this.items.get(`${threadId}\0${id}`)?.content;
  }

  /** Drops every artifact of a thread. */
  async deleteThread(threadId: string): Promise<void> {
    for (const [key, item] of this.items) {
      if (item.threadId !== threadId) continue;
      this.items.delete(key);
      this.held -= item.content.length;
    }
  }

  /** Gives the thread `to` (a fork) the artifacts of `from`, under the same ids. */
  async copyThread(from: string, to: string): Promise<void> {
    for (const [key, item] of [...this.items]) {
      if (item.threadId !== from) continue;
      const id = key.slice(from.length + 1);
      this.items.set(`${to}\0${id}`, { threadId: to, content: item.content });
      this.held += item.content.length;
    }
  }
}

/** Artifacts as files under `dir/<thread>/<id>.txt`: they survive restarts and can be inspected. */
export class FileArtifactStore implements ArtifactStore {
  private readonly dir: string;

  constructor(options: { dir: string }) {
    this.dir = options.dir;
  }

  private threadDir(threadId: string): string {
    return join(this.dir, threadId.replace(/[^A-Za-z0-9_.-]/g, "_"));
  }

  async save(threadId: string, content: string): Promise<ArtifactRef> {
    const id = newId("art");
    const dir = this.threadDir(threadId);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${id}.txt`), content, "utf8");
    return ref(id, content);
  }

  async read(threadId: string, id: string): Promise<string | undefined> {
    if (!ID.test(id)) return undefined;
    try {
      return await readFile(join(this.threadDir(threadId), `${id}.txt`), "utf8");
    } catch {
      return undefined;
    }
  }
}
