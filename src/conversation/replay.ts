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

interface TurnFrame {
  turnId: string;
  start: number;
  usage: Usage | undefined;
  outcome: TurnOutcome;
  context: TurnContext;
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

/**
 * Rebuilds a thread from its lines: starts from the latest `compacted` checkpoint, replays
 * later items, and applies `rollback` lines. Pure and deterministic: the same lines always
 * give the same history (the very item objects, in order), so a resumed thread sends a
 * byte-identical prompt prefix. Throws when the first line is not `thread_meta` (the caller
 * reports the file).
 */
export function replayRollout(lines: readonly RolloutLine[]): ReplayedThread {
  const first = lines[0];
  if (first?.type !== "thread_meta") throw new Error("transcript does not start with thread_meta");
  let items: ResponseItem[] = [];
  let frames: TurnFrame[] = [];
  let foldedTurns = 0;
  const foldedUsage = emptyUsage();
  let context: TurnContext | undefined;
  let open: { turnId: string; submissionId: string | undefined; events: PersistedEventMsg[] } | undefined;

  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as RolloutLine;
    switch (line.type) {
      case "thread_meta":
        break;
      case "turn_context":
        context = mergeTurnContext(context, line.payload);
        frames.push({
          turnId: line.payload.turnId,
          start: items.length,
          usage: undefined,
          outcome: "open",
          context,
        });
        open = { turnId: line.payload.turnId, submissionId: line.payload.submissionId, events: [] };
        break;
      case "response_item":
        items.push(line.payload);
        break;
      case "compacted":
        items = line.payload.replacementHistory.slice();
        for (const f of frames) if (f.usage) addUsage(foldedUsage, f.usage);
        foldedTurns += frames.length;
        frames = [];
        break;
      case "rollback": {
        const keep = Math.max(0, frames.length - line.payload.turns);
        const cut = frames[keep];
        if (cut) items.length = cut.start;
        frames.length = keep;
        open = undefined;
        break;
      }
      case "event": {
        const { msg, turnId } = line.payload;
        const ofOpenTurn = open !== undefined && (turnId === undefined || turnId === open.turnId);
        if (msg.type === "turn_completed" || msg.type === "turn_failed" || msg.type === "turn_aborted") {
          const frame = frames.at(-1);
          const applies =
            frame !== undefined && (turnId === undefined ? ofOpenTurn : turnId === frame.turnId);
          if (frame && applies) {
            frame.usage = msg.usage;
            frame.outcome = turnEndOutcome(msg) ?? "completed";
          }
          if (ofOpenTurn) open = undefined;
        } else if (ofOpenTurn) {
          open?.events.push(msg);
        }
        break;
      }
    }
  }

  const usage = foldedUsage;
  for (const f of frames) if (f.usage) addUsage(usage, f.usage);
  let openTurn: OpenTurn | undefined;
  if (open) {
    const start = frames.at(-1)?.start ?? 0;
    openTurn = { ...open, danglingCalls: danglingCalls(items, start) };
  }
  return {
    meta: first.payload,
    items,
    turnStarts: frames.map((f) => f.start),
    turns: frames.map((f) => ({ turnId: f.turnId, start: f.start, outcome: f.outcome, context: f.context })),
    turnCount: foldedTurns + frames.length,
    lastTurnContext: context,
    openTurn,
    usage,
  };
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
