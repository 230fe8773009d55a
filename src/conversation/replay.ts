import type {
  FunctionCallItem,
  PersistedEventMsg,
  ResponseItem,
  RolloutLine,
  RolloutLineOf,
  Usage,
} from "../protocol/index.ts";
import { addUsage, emptyUsage } from "../protocol/index.ts";
import type { ThreadMeta } from "./store.ts";

/** The settings a turn ran with, after carrying omitted fields forward from earlier turns. */
export type TurnContext = RolloutLineOf<"turn_context">["payload"];

/** A turn opened by `turn_context` and not closed by a turn end event. */
export interface OpenTurn {
  readonly turnId: string;
  readonly submissionId: string | undefined;
  /** Calls of this turn without an output. */
  readonly danglingCalls: FunctionCallItem[];
  /** Persisted events of this turn after its start (e.g. a pending permission request). */
  readonly events: PersistedEventMsg[];
}

/** How a replayed turn ended; `open` when the transcript stops inside it. */
export type TurnOutcome = "completed" | "failed" | "aborted" | "open";

/** A rewindable turn of the replayed history. */
export interface ReplayedTurn {
  readonly turnId: string;
  /** Index in `items` of the turn's first item. */
  readonly start: number;
  readonly outcome: TurnOutcome;
  readonly context: TurnContext;
}

/** The model's view of a thread, rebuilt from its transcript. */
export interface ReplayedThread {
  readonly meta: ThreadMeta;
  /** History after the latest compaction checkpoint, rollbacks applied. */
  readonly items: ResponseItem[];
  /** Index in `items` where each rewindable turn starts (turns since the last checkpoint). */
  readonly turnStarts: number[];
  /** The rewindable turns (since the last checkpoint), oldest first. */
  readonly turns: ReplayedTurn[];
  /** Turns visible to the model, including those folded into a checkpoint. */
  readonly turnCount: number;
  /** The settings of the last turn, omitted fields carried forward. */
  readonly lastTurnContext: TurnContext | undefined;
  readonly openTurn: OpenTurn | undefined;
  /** Usage of every completed, failed or aborted turn still visible. */
  readonly usage: Usage;
}

/** Carries `model`, `cwd` and `permissionMode` forward from the previous context when omitted. */
export function mergeTurnContext(previous: TurnContext | undefined, next: TurnContext): TurnContext {
  if (!previous) return next;
  const merged: TurnContext = { ...next };
  if (merged.model === undefined && previous.model !== undefined) merged.model = previous.model;
  if (merged.cwd === undefined && previous.cwd !== undefined) merged.cwd = previous.cwd;
  if (merged.permissionMode === undefined && previous.permissionMode !== undefined)
    merged.permissionMode = previous.permissionMode;
  return merged;
}

/** The outcome recorded by a turn end message, or undefined for other messages. */
export function turnEndOutcome(msg: PersistedEventMsg): Exclude<TurnOutcome, "open"> | undefined {
  switch (msg.type) {
    case "turn_completed":
      return "completed";
    case "turn_failed":
      return "failed";
    case "turn_aborted":
      return "aborted";
    default:
      return undefined;
  }
}

interface TurnFrame {
  turnId: string;
  start: number;
  usage: Usage | undefined;
  outcome: TurnOutcome;
  context: TurnContext;
}

/** The open turn as a fold carries it: its ids and its persisted events so far. */
export interface FoldOpenTurn {
  readonly turnId: string;
  readonly submissionId?: string | undefined;
  readonly events: PersistedEventMsg[];
}

/**
 * What a fold carries across a `compacted` line, beside the line's replacement history:
 * the turns and usage folded into checkpoints, the settings carried forward and the turn
 * left open. Plain data (stored as JSON in the thread directory, see checkpoint.ts).
 */
export interface FoldCarry {
  readonly context: TurnContext | undefined;
  readonly foldedTurns: number;
  readonly foldedUsage: Usage;
  readonly open: FoldOpenTurn | undefined;
}

/**
 * replayRollout as a fold: lines are pushed one at a time. Without `keepItems` it tracks
 * only the number of items (what a writer needs to know where turns start), not the items.
 * A fold can start at a `compacted` line from the carry taken right after it (`from`): it
 * then gives exactly what pushing every earlier line would have given, because a checkpoint
 * replaces the whole history and no rollback reaches behind it.
 */
export class RolloutFold {
  readonly meta: ThreadMeta;
  private items: ResponseItem[] | undefined;
  private count = 0;
  private frames: TurnFrame[] = [];
  private foldedTurns = 0;
  private readonly foldedUsage: Usage;
  private context: TurnContext | undefined;
  private open: { turnId: string; submissionId: string | undefined; events: PersistedEventMsg[] } | undefined;

  /**
   * `from`: start right after a `compacted` line, with its replacement history and the carry
   * `carry()` returned there.
   */
  constructor(
    meta: ThreadMeta,
    keepItems: boolean,
    from?: { readonly carry: FoldCarry; readonly replacementHistory: readonly ResponseItem[] },
  ) {
    this.meta = meta;
    this.items = keepItems ? [] : undefined;
    this.foldedUsage = emptyUsage();
    if (from) {
      const { carry } = from;
      if (this.items) this.items = from.replacementHistory.slice();
      this.count = from.replacementHistory.length;
      this.foldedTurns = carry.foldedTurns;
      addUsage(this.foldedUsage, carry.foldedUsage);
      this.context = carry.context;
      this.open = carry.open && {
        turnId: carry.open.turnId,
        submissionId: carry.open.submissionId,
        events: carry.open.events.slice(),
      };
    }
  }

  /** Applies one line after the `thread_meta` line. */
  push(line: RolloutLine): void {
    switch (line.type) {
      case "thread_meta":
        break;
      case "turn_context":
        this.context = mergeTurnContext(this.context, line.payload);
        this.frames.push({
          turnId: line.payload.turnId,
          start: this.count,
          usage: undefined,
          outcome: "open",
          context: this.context,
        });
        this.open = { turnId: line.payload.turnId, submissionId: line.payload.submissionId, events: [] };
        break;
      case "response_item":
        this.items?.push(line.payload);
        this.count++;
        break;
      case "compacted":
        if (this.items) this.items = line.payload.replacementHistory.slice();
        this.count = line.payload.replacementHistory.length;
        for (const f of this.frames) if (f.usage) addUsage(this.foldedUsage, f.usage);
        this.foldedTurns += this.frames.length;
        this.frames = [];
        break;
      case "rollback": {
        const keep = Math.max(0, this.frames.length - line.payload.turns);
        const cut = this.frames[keep];
        if (cut) {
          if (this.items) this.items.length = cut.start;
          this.count = cut.start;
        }
        this.frames.length = keep;
        this.open = undefined;
        break;
      }
      case "event":
        this.pushEvent(line.payload.msg, line.payload.turnId);
        break;
    }
  }

  private pushEvent(msg: PersistedEventMsg, turnId: string | undefined): void {
    const open = this.open;
    const ofOpenTurn = open !== undefined && (turnId === undefined || turnId === open.turnId);
    if (msg.type === "turn_completed" || msg.type === "turn_failed" || msg.type === "turn_aborted") {
      const frame = this.frames.at(-1);
      const applies = frame !== undefined && (turnId === undefined ? ofOpenTurn : turnId === frame.turnId);
      if (frame && applies) {
        frame.usage = msg.usage;
        frame.outcome = turnEndOutcome(msg) ?? "completed";
      }
      if (ofOpenTurn) this.open = undefined;
    } else if (ofOpenTurn) {
      open?.events.push(msg);
    }
  }

  /**
   * What to carry across the last line pushed, when it was `compacted` (a copy: later pushes
   * do not change it). Throws when a turn started after the last checkpoint (misuse).
   */
  carry(): FoldCarry {
    if (this.frames.length > 0) throw new Error("a fold carries only right after a compacted line");
    const open = this.open;
    return {
      context: this.context,
      foldedTurns: this.foldedTurns,
      foldedUsage: { ...this.foldedUsage },
      open: open && {
        turnId: open.turnId,
        ...(open.submissionId !== undefined ? { submissionId: open.submissionId } : {}),
        events: open.events.slice(),
      },
    };
  }

  /** Stops keeping items (the history now lives elsewhere); only their number is tracked. */
  forgetItems(): void {
    this.items = undefined;
  }

  /** The thread so far. Throws when the fold does not keep items (misuse). */
  result(): ReplayedThread {
    const items = this.items;
    if (!items) throw new Error("this fold does not keep items");
    const usage = emptyUsage();
    addUsage(usage, this.foldedUsage);
    for (const f of this.frames) if (f.usage) addUsage(usage, f.usage);
    let openTurn: OpenTurn | undefined;
    if (this.open) {
      const start = this.frames.at(-1)?.start ?? 0;
      openTurn = {
        turnId: this.open.turnId,
        submissionId: this.open.submissionId,
        events: this.open.events.slice(),
        danglingCalls: danglingCalls(items, start),
      };
    }
    return {
      meta: this.meta,
      items,
      turnStarts: this.frames.map((f) => f.start),
      turns: this.frames.map((f) => ({
        turnId: f.turnId,
        start: f.start,
        outcome: f.outcome,
        context: f.context,
      })),
      turnCount: this.foldedTurns + this.frames.length,
      lastTurnContext: this.context,
      openTurn,
      usage,
    };
  }
}

/**
 * Rebuilds a thread from its lines: starts from the latest `compacted` checkpoint, replays
 * later items, and applies `rollback` lines. Pure and deterministic: the same lines always
 * give the same history (the very item objects, in order), so a resumed thread sends a
 * byte-identical prompt prefix. Throws when the first line is not `thread_meta` (the caller
 * reports the file). The same as pushing every line into a RolloutFold.
 */
export function replayRollout(lines: readonly RolloutLine[]): ReplayedThread {
  const first = lines[0];
  if (first?.type !== "thread_meta") throw new Error("transcript does not start with thread_meta");
  const fold = new RolloutFold(first.payload, true);
  for (let i = 1; i < lines.length; i++) fold.push(lines[i] as RolloutLine);
  return fold.result();
}

/** Function calls at or after `from` that have no output. */
export function danglingCalls(items: readonly ResponseItem[], from = 0): FunctionCallItem[] {
  const answered = new Set<string>();
  for (let i = from; i < items.length; i++) {
    const item = items[i] as ResponseItem;
    if (item.type === "function_call_output") answered.add(item.callId);
  }
  const out: FunctionCallItem[] = [];
  for (let i = from; i < items.length; i++) {
    const item = items[i] as ResponseItem;
    if (item.type === "function_call" && !answered.has(item.callId)) out.push(item);
  }
  return out;
}
