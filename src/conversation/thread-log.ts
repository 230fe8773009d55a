import type { Event, ResponseItem, RolloutLineOf } from "../protocol/index.ts";
import { shouldPersist } from "./persist-policy.ts";
import type { ReplayedThread } from "./replay.ts";
import type { ThreadWriter } from "./store.ts";

type TurnContext = RolloutLineOf<"turn_context">["payload"];

/**
 * A thread's live history plus its writer: every change to what the model sees goes
 * through here, so memory and transcript never disagree. Items are never mutated after
 * they are appended.
 */
export class ThreadLog {
  readonly threadId: string;
  private readonly writer: ThreadWriter;
  private readonly history: ResponseItem[];
  private readonly starts: number[];
  private turns: number;
  private frozen = false;

  constructor(threadId: string, writer: ThreadWriter, replayed?: ReplayedThread) {
    this.threadId = threadId;
    this.writer = writer;
    this.history = replayed ? replayed.items.slice() : [];
    this.starts = replayed ? replayed.turnStarts.slice() : [];
    this.turns = replayed ? replayed.turnCount : 0;
  }

  /** The model's view of the thread. Do not mutate. */
  get items(): readonly ResponseItem[] {
    return this.history;
  }

  /** Turns visible to the model. */
  get turnCount(): number {
    return this.turns;
  }

  /** Turns that can be rewound (those after the latest compaction checkpoint). */
  get rewindableTurns(): number {
    return this.starts.length;
  }

  /**
   * Stops recording: every later change is dropped, in memory and on disk. Used when the
   * engine shuts down while a turn waits on a person, so the transcript keeps that turn
   * open and a later open resumes it. Irreversible.
   */
  freeze(): void {
    this.frozen = true;
  }

  /** True after `freeze`. */
  get isFrozen(): boolean {
    return this.frozen;
  }

  /** Opens a turn: records its settings; following items belong to it. */
  beginTurn(context: TurnContext): void {
    if (this.frozen) return;
    this.starts.push(this.history.length);
    this.turns++;
    this.writer.append({ ts: Date.now(), type: "turn_context", payload: context });
  }

  append(item: ResponseItem): void {
    if (this.frozen) return;
    this.history.push(item);
    this.writer.append({ ts: Date.now(), type: "response_item", payload: item });
  }

  /** Persists the event when the persistence policy says so. */
  record(event: Event): void {
    if (this.frozen || !shouldPersist(event.msg)) return;
    const payload: RolloutLineOf<"event">["payload"] = { msg: event.msg };
    if (event.turnId !== undefined) payload.turnId = event.turnId;
    if (event.submissionId !== undefined) payload.submissionId = event.submissionId;
    this.writer.append({ ts: event.ts, type: "event", payload });
  }

  /** Drops the last `n` turns from the model's view and records a rollback line. */
  rollback(n: number): void {
    if (this.frozen) return;
    const keep = Math.max(0, this.starts.length - n);
    const cut = this.starts[keep];
    if (cut !== undefined) this.history.length = cut;
    const dropped = this.starts.length - keep;
    this.starts.length = keep;
    this.turns -= dropped;
    this.writer.append({ ts: Date.now(), type: "rollback", payload: { turns: n } });
  }

  /** Replaces the history with a checkpoint (compaction). */
  replace(strategy: string, replacement: readonly ResponseItem[], summary?: string): void {
    if (this.frozen) return;
    this.history.length = 0;
    this.history.push(...replacement);
    this.starts.length = 0;
    const payload: RolloutLineOf<"compacted">["payload"] = {
      strategy,
      replacementHistory: replacement.slice(),
    };
    if (summary !== undefined) payload.summary = summary;
    this.writer.append({ ts: Date.now(), type: "compacted", payload });
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}
