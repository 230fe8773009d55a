/**
 * Trace export for evaluation datasets: a thread's transcript as records of model calls
 * (request and response), tool outcomes and turn outcomes, redacted. The schema is documented
 * in docs/guides/observability.md ("Trace export").
 */
import type { ThreadStore } from "../conversation/store.ts";
import type {
  ErrorInfo,
  EventMsgOf,
  ResponseItem,
  RolloutLine,
  ToolOutput,
  Usage,
} from "../protocol/index.ts";
import { defaultRedactor } from "../redact/redactor.ts";
import type { Redactor } from "../redact/types.ts";

/** The schema id every export starts with; bumped on an incompatible change. */
export const TRACE_SCHEMA = "taifeng.trace/1";

/** The first record: which thread, and the schema. */
export interface ThreadRecord {
  readonly type: "thread";
  readonly schema: typeof TRACE_SCHEMA;
  readonly threadId: string;
  readonly createdAt: number;
  readonly title?: string;
  readonly parent?: { readonly threadId: string; readonly turns: number };
}

/**
 * One model call: what the model was sent (`request.items`: the history it saw, after any
 * compaction; with `history: "delta"`, only the items added since the previous call and
 * `request.omitted`, the count left out) and what it answered (`response.items`: reasoning,
 * text and tool calls), with the call's outcome from its `model_call_completed` event: `step`,
 * `finishReason`, `usage`, `costUsd`, `durationMs`, `error`. A call that failed before any
 * output has empty `response.items`. Transcripts written before calls were persisted (ADR
 * 2201) have no outcome fields; their usage is only on the turn record.
 */
export interface ModelCallRecord {
  readonly type: "model_call";
  readonly turnId: string;
  /** 1-based turn number in the export. */
  readonly turn: number;
  /** 1-based call number within the turn. */
  readonly call: number;
  readonly model: string | undefined;
  readonly request: { readonly items: readonly ResponseItem[]; readonly omitted?: number };
  readonly response: { readonly items: readonly ResponseItem[] };
  /** The engine's step number of the call. */
  step?: number;
  finishReason?: EventMsgOf<"model_call_completed">["finishReason"];
  /** The call's own usage (input includes cached). */
  usage?: Usage;
  costUsd?: number;
  durationMs?: number;
  /** The classified failure, when `finishReason` is `error`. */
  error?: ErrorInfo;
}

/** A tool call's outcome, matched to its call. */
export interface ToolResultRecord {
  readonly type: "tool_result";
  readonly turnId: string;
  readonly turn: number;
  readonly callId: string;
  readonly name: string;
  readonly arguments: string;
  readonly output: ToolOutput;
  readonly isError: boolean;
}

/** How a turn ended, with its usage and cost. */
export interface TurnRecord {
  readonly type: "turn";
  readonly turnId: string;
  readonly turn: number;
  readonly model: string | undefined;
  readonly outcome: "completed" | "failed" | "aborted" | "open";
  readonly steps?: number;
  readonly usage?: Usage;
  readonly costUsd?: number;
  readonly durationMs?: number;
  readonly error?: ErrorInfo;
  /** The final answer (completed turns). */
  readonly text?: string;
}

/** One line of an export. */
export type TraceRecord = ThreadRecord | ModelCallRecord | ToolResultRecord | TurnRecord;

/** Options of `exportTrace`. */
export interface TraceExportOptions {
  /** Every record is passed through it. Default `defaultRedactor()`. */
  readonly redactor?: Redactor;
  /** `full` (default): each call's whole input; `delta`: only what was added since the previous call. */
  readonly history?: "full" | "delta";
}

const isResponse = (item: ResponseItem) =>
  item.type === "reasoning" ||
  item.type === "function_call" ||
  (item.type === "message" && item.role === "assistant");

interface TurnState {
  readonly turnId: string;
  readonly turn: number;
  readonly model: string | undefined;
  readonly start: number;
  calls: number;
  /** The answer being read: a run of model-produced items. */
  response: ResponseItem[] | undefined;
  requestLength: number;
  lastText: string;
  readonly callsById: Map<string, { name: string; arguments: string }>;
  /** The last call exported before its outcome was read (tools may finish first). */
  awaiting: ModelCallRecord | undefined;
}

/** Copies a call's outcome onto its record. */
function complete(record: ModelCallRecord, msg: EventMsgOf<"model_call_completed">): void {
  record.step = msg.step;
  record.finishReason = msg.finishReason;
  record.usage = msg.usage;
  if (msg.costUsd !== undefined) record.costUsd = msg.costUsd;
  record.durationMs = msg.durationMs;
  if (msg.error) record.error = msg.error;
}

/**
 * Turns a transcript into trace records, in order: the thread record, then per turn its model
 * calls and tool results as they happened, then the turn record. Rolled-back turns are
 * exported too (they happened); later calls' requests reflect the rollback and any
 * compaction, as the model saw them. Every record is redacted.
 */
export function exportTrace(lines: readonly RolloutLine[], options: TraceExportOptions = {}): TraceRecord[] {
  const redactor = options.redactor ?? defaultRedactor();
  const delta = options.history === "delta";
  const out: TraceRecord[] = [];
  const history: ResponseItem[] = [];
  const turnStarts: number[] = [];
  let turn: TurnState | undefined;
  let turnCount = 0;
  let model: string | undefined;
  let lastSent = 0;

  // One call's record; `requestLength` items of the history were its input.
  const callRecord = (t: TurnState, requestLength: number, response: ResponseItem[]): ModelCallRecord => {
    t.calls++;
    const items = history.slice(0, requestLength);
    const request = delta
      ? { items: items.slice(Math.min(lastSent, items.length)), omitted: Math.min(lastSent, items.length) }
      : { items };
    lastSent = history.length;
    const record: ModelCallRecord = {
      type: "model_call",
      turnId: t.turnId,
      turn: t.turn,
      call: t.calls,
      model: t.model,
      request,
      response: { items: response },
    };
    out.push(record);
    return record;
  };
  const flushCall = () => {
    if (!turn?.response) return;
    turn.awaiting = callRecord(turn, turn.requestLength, turn.response);
    turn.response = undefined;
  };
  // A call's outcome: it completes the call being read, or the one exported just before (its
  // tools ran before it was reported), or stands alone (it failed before any output).
  const completeCall = (msg: EventMsgOf<"model_call_completed">) => {
    if (!turn) return;
    flushCall();
    const record = turn.awaiting ?? callRecord(turn, history.length, []);
    turn.awaiting = undefined;
    complete(record, msg);
  };

  for (const line of lines) {
    switch (line.type) {
      case "thread_meta": {
        const p = line.payload;
        out.push({
          type: "thread",
          schema: TRACE_SCHEMA,
          threadId: p.threadId,
          createdAt: p.createdAt,
          ...(p.title !== undefined ? { title: p.title } : {}),
          ...(p.parent ? { parent: p.parent } : {}),
        });
        break;
      }
      case "turn_context":
        flushCall();
        if (turn) turn.awaiting = undefined;
        if (turn) out.push(openTurnRecord(turn));
        model = line.payload.model ?? model;
        turnCount++;
        turn = {
          turnId: line.payload.turnId,
          turn: turnCount,
          model,
          start: history.length,
          calls: 0,
          response: undefined,
          requestLength: 0,
          lastText: "",
          callsById: new Map(),
          awaiting: undefined,
        };
        turnStarts.push(history.length);
        break;
      case "response_item": {
        const item = line.payload;
        if (turn && isResponse(item)) {
          if (!turn.response) {
            turn.response = [];
            turn.requestLength = history.length;
          }
          turn.response.push(item);
          if (item.type === "message")
            turn.lastText = item.content.map((p) => (p.type === "text" ? p.text : "")).join("");
          if (item.type === "function_call")
            turn.callsById.set(item.callId, { name: item.name, arguments: item.arguments });
        } else {
          flushCall();
          if (turn && item.type === "function_call_output") {
            const call = turn.callsById.get(item.callId);
            out.push({
              type: "tool_result",
              turnId: turn.turnId,
              turn: turn.turn,
              callId: item.callId,
              name: call?.name ?? "",
              arguments: call?.arguments ?? "",
              output: item.output,
              isError: item.isError === true,
            });
          }
        }
        history.push(item);
        break;
      }
      case "compacted":
        flushCall();
        history.length = 0;
        history.push(...line.payload.replacementHistory);
        turnStarts.length = 0;
        lastSent = 0;
        break;
      case "rollback": {
        flushCall();
        const keep = Math.max(0, turnStarts.length - line.payload.turns);
        const cut = turnStarts[keep];
        if (cut !== undefined) history.length = cut;
        turnStarts.length = keep;
        lastSent = Math.min(lastSent, history.length);
        break;
      }
      case "event": {
        const msg = line.payload.msg;
        if (msg.type === "model_call_completed") {
          completeCall(msg);
          break;
        }
        if (msg.type !== "turn_completed" && msg.type !== "turn_failed" && msg.type !== "turn_aborted") break;
        flushCall();
        if (!turn) break;
        const base = {
          type: "turn" as const,
          turnId: turn.turnId,
          turn: turn.turn,
          model: turn.model,
          steps: msg.steps,
          usage: msg.usage,
          durationMs: msg.durationMs,
        };
        if (msg.type === "turn_completed")
          out.push({
            ...base,
            outcome: "completed",
            text: msg.text ?? turn.lastText,
            ...(msg.costUsd !== undefined ? { costUsd: msg.costUsd } : {}),
          });
        else if (msg.type === "turn_failed")
          out.push({
            ...base,
            outcome: "failed",
            error: msg.error,
            ...(msg.costUsd !== undefined ? { costUsd: msg.costUsd } : {}),
          });
        else out.push({ ...base, outcome: "aborted" });
        turn = undefined;
        break;
      }
    }
  }
  flushCall();
  if (turn) out.push(openTurnRecord(turn));
  return out.map((r) => redactor.redactValue(r));
}

function openTurnRecord(turn: TurnState): TurnRecord {
  return { type: "turn", turnId: turn.turnId, turn: turn.turn, model: turn.model, outcome: "open" };
}

/** Reads a stored thread and exports it (see exportTrace). Throws what the store throws for an unknown thread. */
export async function exportThreadTrace(
  store: ThreadStore,
  threadId: string,
  options: TraceExportOptions = {},
): Promise<TraceRecord[]> {
  return exportTrace(await store.read(threadId), options);
}
