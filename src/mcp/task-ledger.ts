/**
 * Which MCP task a tool call started, kept durably so that a call the engine runs again after
 * a restart (a parked call is re-run on resume) follows its task instead of calling the tool a
 * second time. Keyed by thread, turn and call id.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** The task a call started. */
export interface McpTaskRef {
  readonly server: string;
  readonly tool: string;
  readonly taskId: string;
  /** When the task was created (ms since the epoch). */
  readonly at: number;
}

/** Where task references live. `put` must be durable when it resolves. */
export interface McpTaskLedger {
  get(key: string): Promise<McpTaskRef | undefined>;
  put(key: string, ref: McpTaskRef): Promise<void>;
  delete(key: string): Promise<void>;
}

/** The ledger key of one tool call. */
export function taskKey(ctx: { threadId: string; turnId: string; callId: string }): string {
  return `${ctx.threadId}\n${ctx.turnId}\n${ctx.callId}`;
}

/** A ledger in memory: calls resumed in the same process only (tests, short-lived hosts). */
export function memoryTaskLedger(): McpTaskLedger {
  const refs = new Map<string, McpTaskRef>();
  return {
    get: async (key) => refs.get(key),
    put: async (key, ref) => {
      refs.set(key, ref);
    },
    delete: async (key) => {
      refs.delete(key);
    },
  };
}

const MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * A ledger in a folder: one small JSON file per call, written to a temporary file, flushed to
 * disk and renamed into place, so a crash leaves either the whole entry or none. Entries older
 * than `maxAgeMs` (default 7 days: no server keeps a task that long) are removed by `prune`.
 */
export function fileTaskLedger(
  dir: string,
  options: { maxAgeMs?: number } = {},
): McpTaskLedger & {
  prune(): Promise<number>;
} {
  const file = (key: string) =>
    join(dir, `${createHash("sha256").update(key).digest("hex").slice(0, 40)}.json`);
  let made: Promise<unknown> | undefined;
  const ensure = () => {
    made ??= mkdir(dir, { recursive: true, mode: 0o700 });
    return made;
  };
  return {
    async get(key) {
      try {
        const raw = JSON.parse(await readFile(file(key), "utf8")) as { key?: string; ref?: McpTaskRef };
        return raw.key === key ? raw.ref : undefined;
      } catch {
        return undefined;
      }
    },
    async put(key, ref) {
      await ensure();
      const tmp = join(dir, `.${randomUUID()}.tmp`);
      await writeFile(tmp, JSON.stringify({ key, ref }), { mode: 0o600, flush: true });
      await rename(tmp, file(key));
    },
    async delete(key) {
      await rm(file(key), { force: true });
    },
    async prune() {
      const cutoff = Date.now() - (options.maxAgeMs ?? MAX_AGE_MS);
      let removed = 0;
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const path = join(dir, name);
        const info = await stat(path).catch(() => undefined);
        if (info && info.mtimeMs < cutoff) {
          await rm(path, { force: true });
          removed++;
        }
      }
      return removed;
    },
  };
}
