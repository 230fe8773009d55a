import type {
  EventMsg,
  FunctionCallItem,
  ResponseItem,
  RolloutLine,
  RolloutLineOf,
  Usage,
} from "../protocol/index.ts";
import { addUsage, emptyUsage } from "../protocol/index.ts";
import type { ThreadMeta } from "./store.ts";

/** A turn opened by `turn_context` and not closed by a turn end event. */
export interface OpenTurn {
  readonly turnId: string;
  readonly submissionId: string | undefined;
  /** Calls of this turn without an output. */
  readonly danglingCalls: FunctionCallItem[];
  /** Persisted events of this turn after its start (e.g. a pending permission request). */
  readonly events: EventMsg[];
}

/** The model's view of a thread, rebuilt from its transcript. */
export interface ReplayedThread {
  readonly meta: ThreadMeta;
  /** History after the latest compaction checkpoint, rollbacks applied. */
  readonly items: ResponseItem[];
  /** Index in `items` where each rewindable turn starts (turns since the last checkpoint). */
  readonly turnStarts: number[];
  /** Turns visible to the model, including those folded into a checkpoint. */
  readonly turnCount: number;
  readonly lastTurnContext: RolloutLineOf<"turn_context">["payload"] | undefined;
  readonly openTurn: OpenTurn | undefined;
  /** Usage of every completed, failed or aborted turn still visible. */
  readonly usage: Usage;
}

interface TurnFrame {
  start: number;
  usage: Usage | undefined;
}

/**
 * Rebuilds a thread from its lines: starts from the latest `compacted` checkpoint, replays
 * later items, and applies `rollback` lines. Pure and deterministic: the same lines always
 * give the same history, so a resumed thread sends a byte-identical prompt prefix.
 * Throws when the first line is not `thread_meta` (the caller reports the file).
 */
export function replayRollout(lines: readonly RolloutLine[]): ReplayedThread {
  const first = lines[0];
  if (first?.type !== "thread_meta") throw new Error("transcript does not start with thread_meta");
  let items: ResponseItem[] = [];
  let frames: TurnFrame[] = [];
  let foldedTurns = 0;
  const foldedUsage = emptyUsage();
  let lastTurnContext: ReplayedThread["lastTurnContext"];
  let open: { turnId: string; submissionId: string | undefined; events: EventMsg[] } | undefined;

  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as RolloutLine;
    switch (line.type) {
      case "thread_meta":
        break;
      case "turn_context":
        lastTurnContext = line.payload;
        frames.push({ start: items.length, usage: undefined });
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
        const msg = line.payload.msg;
        if (msg.type === "turn_completed" || msg.type === "turn_failed" || msg.type === "turn_aborted") {
          const frame = frames.at(-1);
          if (frame) frame.usage = msg.usage;
          open = undefined;
        } else if (open) {
          open.events.push(msg);
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
    turnCount: foldedTurns + frames.length,
    lastTurnContext,
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
