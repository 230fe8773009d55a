import type { RolloutLine, Usage } from "../protocol/index.ts";
import { addUsage, emptyUsage, messageText } from "../protocol/index.ts";
import type { ThreadMeta, ThreadQuery } from "./store.ts";

/**
 * Where a thread stands, as the thread directory reports it:
 * - `idle`: no turn is open and the last turn did not fail;
 * - `running`: a turn is open (in a live process, or cut by a crash and closed on resume);
 * - `suspended`: the open turn waits for a person (a permission or user-input request);
 * - `failed`: the last turn ended with `turn_failed`.
 */
export type ThreadStatus = "idle" | "running" | "suspended" | "failed";

/** A row of the thread directory. */
export interface ThreadInfo {
  readonly threadId: string;
  /** The title given at creation, else the start of the first user message. */
  readonly title: string | undefined;
  readonly createdAt: number;
  /** Timestamp of the last line. */
  readonly updatedAt: number;
  /** Turns visible to the model (rolled-back turns excluded). */
  readonly turns: number;
  readonly status: ThreadStatus;
  /** Tokens spent by every turn that ended, including turns later rolled back. */
  readonly usage: Usage;
  /** Set on forks: the thread this one was copied from, and how many turns it copied. */
  readonly parentThreadId: string | undefined;
  readonly parentTurns: number | undefined;
  /** Set on a child agent's thread: the thread and call that spawned it, and its agent path. */
  readonly agent?: AgentLink | undefined;
}

/** A child agent's link to its parent, from its `thread_meta.agent` (see docs/guides/agents.md). */
export interface AgentLink {
  readonly parentThreadId: string;
  readonly callId: string;
  /** The agent path, e.g. `root/researcher#2`. */
  readonly path: string;
}

const TITLE_CHARS = 80;

/** A ThreadSummarizer's state as plain data (carried across a checkpoint, see checkpoint.ts). */
export interface SummaryCarry {
  readonly title?: string | undefined;
  readonly updatedAt: number;
  readonly folded: number;
  readonly rewindable: number;
  readonly usage: Usage;
  readonly open: boolean;
  readonly pending: readonly string[];
  readonly lastFailed: boolean;
}

/** A one-line title from a message: its first non-empty line, cut to 80 characters. */
export function titleFrom(text: string): string | undefined {
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l !== "");
  if (line === undefined) return undefined;
  return line.length > TITLE_CHARS ? `${line.slice(0, TITLE_CHARS - 1)}…` : line;
}

/**
 * Folds transcript lines into a ThreadInfo, incrementally: the JSONL writer pushes every
 * line it appends, and rebuilds push whole files. O(1) per line.
 */
export class ThreadSummarizer {
  private readonly meta: ThreadMeta;
  private title: string | undefined;
  private updatedAt: number;
  private folded = 0;
  private rewindable = 0;
  private readonly usage: Usage = emptyUsage();
  private open = false;
  private readonly pending = new Set<string>();
  private lastFailed = false;

  /** `from`: continue from a state `carry()` returned (the lines it covers are not pushed again). */
  constructor(meta: ThreadMeta, createdTs = meta.createdAt, from?: SummaryCarry) {
    this.meta = meta;
    this.title = meta.title;
    this.updatedAt = createdTs;
    if (from) {
      this.title = from.title;
      this.updatedAt = from.updatedAt;
      this.folded = from.folded;
      this.rewindable = from.rewindable;
      addUsage(this.usage, from.usage);
      this.open = from.open;
      for (const id of from.pending) this.pending.add(id);
      this.lastFailed = from.lastFailed;
    }
  }

  /** The state so far as plain data (a copy). */
  carry(): SummaryCarry {
    return {
      ...(this.title !== undefined ? { title: this.title } : {}),
      updatedAt: this.updatedAt,
      folded: this.folded,
      rewindable: this.rewindable,
      usage: { ...this.usage },
      open: this.open,
      pending: [...this.pending],
      lastFailed: this.lastFailed,
    };
  }

  /** Accounts for one line appended after the `thread_meta` line. */
  push(line: RolloutLine): void {
    this.updatedAt = Math.max(this.updatedAt, line.ts);
    switch (line.type) {
      case "thread_meta":
        return;
      case "turn_context":
        this.rewindable++;
        this.open = true;
        this.pending.clear();
        return;
      case "response_item": {
        const item = line.payload;
        if (this.title === undefined && item.type === "message" && item.role === "user")
          this.title = titleFrom(messageText(item));
        return;
      }
      case "compacted":
        this.folded += this.rewindable;
        this.rewindable = 0;
        return;
      case "rollback":
        this.rewindable = Math.max(0, this.rewindable - line.payload.turns);
        this.open = false;
        this.pending.clear();
        this.lastFailed = false;
        return;
      case "event":
        this.pushEvent(line.payload.msg);
        return;
    }
  }

  private pushEvent(msg: Extract<RolloutLine, { type: "event" }>["payload"]["msg"]): void {
    switch (msg.type) {
      case "turn_completed":
      case "turn_failed":
      case "turn_aborted":
        addUsage(this.usage, msg.usage);
        this.open = false;
        this.pending.clear();
        this.lastFailed = msg.type === "turn_failed";
        return;
      case "permission_requested":
      case "user_input_requested":
        if (this.open) this.pending.add(msg.requestId);
        return;
      case "permission_resolved":
        this.pending.delete(msg.requestId);
        return;
      default:
        return;
    }
  }

  /** The summary so far. */
  info(): ThreadInfo {
    let status: ThreadStatus = "idle";
    if (this.open) status = this.pending.size > 0 ? "suspended" : "running";
    else if (this.lastFailed) status = "failed";
    return {
      threadId: this.meta.threadId,
      title: this.title,
      createdAt: this.meta.createdAt,
      updatedAt: this.updatedAt,
      turns: this.folded + this.rewindable,
      status,
      usage: { ...this.usage },
      parentThreadId: this.meta.parent?.threadId,
      parentTurns: this.meta.parent?.turns,
      ...(this.meta.agent
        ? {
            agent: {
              parentThreadId: this.meta.agent.parentThreadId,
              callId: this.meta.agent.callId,
              path: this.meta.agent.path,
            },
          }
        : {}),
    };
  }
}

/** Summarizes a whole transcript. Throws when the first line is not `thread_meta`. */
export function summarizeThread(lines: readonly RolloutLine[]): ThreadInfo {
  const first = lines[0];
  if (first?.type !== "thread_meta") throw new Error("transcript does not start with thread_meta");
  const summarizer = new ThreadSummarizer(first.payload, first.ts);
  for (let i = 1; i < lines.length; i++) summarizer.push(lines[i] as RolloutLine);
  return summarizer.info();
}

/** Applies a ThreadQuery to summaries held in memory: filter, most recently updated first, limit. */
export function queryThreads(threads: Iterable<ThreadInfo>, query: ThreadQuery): ThreadInfo[] {
  const search = query.search?.toLowerCase();
  const out: ThreadInfo[] = [];
  for (const info of threads) {
    if (search !== undefined && !(info.title ?? "").toLowerCase().includes(search)) continue;
    if (query.parentThreadId !== undefined && info.parentThreadId !== query.parentThreadId) continue;
    if (query.agentParentThreadId !== undefined && info.agent?.parentThreadId !== query.agentParentThreadId)
      continue;
    out.push(info);
  }
  out.sort((a, b) => b.updatedAt - a.updatedAt);
  return query.limit !== undefined ? out.slice(0, query.limit) : out;
}
