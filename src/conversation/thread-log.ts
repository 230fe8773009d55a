import type { Event, ResponseItem, RolloutLineOf } from "../protocol/index.ts";
import { isTurnEnd } from "../protocol/index.ts";
import { type OpenTurnIds, persistedEvent } from "./persist-policy.ts";
import { mergeTurnContext, type ReplayedThread, type TurnContext } from "./replay.ts";
import type { ThreadWriter } from "./store.ts";

/** Rewrites an item before it is kept (returns the same item when nothing changes). */
export type ItemFilter = (item: ResponseItem) => ResponseItem;

/**
 * A thread's live history plus its writer: every change to what the model sees goes
 * through here, so memory and transcript never disagree. Items are never mutated after
 * they are appended. Lines are written in their compact form (see src/protocol/rollout.ts):
 * a turn context repeats only changed settings and events omit the open turn's ids.
 */
export class ThreadLog {
  readonly threadId: string;
  private readonly writer: ThreadWriter;
  private readonly history: ResponseItem[];
  private readonly starts: number[];
  private turns: number;
  /** The effective settings of the last turn_context written or replayed. */
  private context: TurnContext | undefined;
  private open: OpenTurnIds | undefined;
  private closing = false;
  private frozen = false;
  private gen = 0;
  private readonly filter: ItemFilter | undefined;

  /**
   * `filter` rewrites every item before it enters the history (and so the transcript and
   * the model's view alike): the engine's redactor plugs in here.
   */
  constructor(threadId: string, writer: ThreadWriter, replayed?: ReplayedThread, filter?: ItemFilter) {
    this.threadId = threadId;
    this.writer = writer;
    this.filter = filter;
    this.history = replayed ? replayed.items.slice() : [];
    this.starts = replayed ? replayed.turnStarts.slice() : [];
    this.turns = replayed ? replayed.turnCount : 0;
    this.context = replayed?.lastTurnContext;
    const open = replayed?.openTurn;
    this.open = open ? { turnId: open.turnId, submissionId: open.submissionId } : undefined;
  }

  /** The model's view of the thread. Do not mutate. */
  get items(): readonly ResponseItem[] {
    return this.history;
  }

  /**
   * Increases whenever existing history changes (rollback, compaction); appends leave it
   * alone. Lets callers cache per-history figures (token totals) and extend them on append.
   */
  get generation(): number {
    return this.gen;
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

  /** Opens a turn: records its settings; following items belong to it. `ts`: when, default now. */
  beginTurn(context: TurnContext, ts: number = Date.now()): void {
    if (this.frozen) return;
    this.starts.push(this.history.length);
    this.turns++;
    const previous = this.context;
    const payload: TurnContext = { turnId: context.turnId };
    if (context.submissionId !== undefined) payload.submissionId = context.submissionId;
    if (context.model !== undefined && context.model !== previous?.model) payload.model = context.model;
    if (context.cwd !== undefined && context.cwd !== previous?.cwd) payload.cwd = context.cwd;
    if (context.permissionMode !== undefined && context.permissionMode !== previous?.permissionMode)
      payload.permissionMode = context.permissionMode;
    this.context = mergeTurnContext(previous, context);
    this.open = { turnId: context.turnId, submissionId: context.submissionId };
    this.writer.append({ ts, type: "turn_context", payload });
  }

  append(given: ResponseItem): void {
    if (this.frozen) return;
    const item = this.filter ? this.filter(given) : given;
    this.history.push(item);
    this.writer.append({ ts: Date.now(), type: "response_item", payload: item });
  }

  /**
   * Persists the event when the persistence policy says so; a turn end closes the open turn.
   * Events raised once the log is closing (e.g. the error of a failed close) are not persisted.
   */
  record(event: Event): void {
    if (this.closing || this.frozen) return;
    const payload = persistedEvent(event, this.open);
    if (payload === undefined) return;
    this.writer.append({ ts: event.ts, type: "event", payload });
    if (isTurnEnd(event.msg) && event.turnId === this.open?.turnId) this.open = undefined;
  }

  /** Drops the last `n` turns from the model's view and records a rollback line. */
  rollback(n: number): void {
    if (this.frozen) return;
    const keep = Math.max(0, this.starts.length - n);
    const cut = this.starts[keep];
    if (cut !== undefined) this.history.length = cut;
    this.gen++;
    const dropped = this.starts.length - keep;
    this.starts.length = keep;
    this.turns -= dropped;
    this.open = undefined;
    this.writer.append({ ts: Date.now(), type: "rollback", payload: { turns: n } });
  }

  /** Replaces the history with a checkpoint (compaction). */
  replace(strategy: string, given: readonly ResponseItem[], summary?: string): void {
    if (this.frozen) return;
    const filter = this.filter;
    const replacement = filter ? given.map((item) => filter(item)) : given;
    this.history.length = 0;
    this.history.push(...replacement);
    this.gen++;
    this.starts.length = 0;
    const payload: RolloutLineOf<"compacted">["payload"] = {
      strategy,
      replacementHistory: replacement.slice(),
    };
    if (summary !== undefined) payload.summary = summary;
    this.writer.append({ ts: Date.now(), type: "compacted", payload });
  }

  /**
   * Makes every line so far durable (see ThreadWriter.flush). Returns undefined when the
   * writer is synchronous and there is nothing to wait for.
   */
  flush(): Promise<void> | undefined {
    if (this.writer.synchronous) {
      void this.writer.flush();
      return undefined;
    }
    return this.writer.flush();
  }

  /** Flushes and releases the writer; undefined when that happened synchronously. */
  close(): Promise<void> | undefined {
    this.closing = true;
    if (this.writer.synchronous) {
      void this.writer.close();
      return undefined;
    }
    return this.writer.close();
  }
}
