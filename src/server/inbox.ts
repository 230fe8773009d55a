/**
 * The approvals inbox (`GET /v1/approvals`): requests waiting on a person, from live engines
 * and — for threads whose engine was evicted while it waited, or that no engine has opened
 * since a restart — from the transcripts. A parked request keeps its id: the engine reopened
 * to take the answer asks it again under the same id.
 */
import type { RolloutLine } from "../protocol/index.ts";

/** One row of the inbox. */
export interface InboxRow {
  readonly threadId: string;
  readonly turnId: string | undefined;
  readonly submissionId: string | undefined;
  readonly kind: "permission" | "user_input";
  readonly requestId: string;
  readonly tool?: string;
  readonly input?: unknown;
  readonly reason?: string;
  readonly question?: string;
  readonly options?: readonly string[];
  readonly suggestions?: readonly string[];
  /** `agents`: the runtime ends this wait when child agents finish; not for a person to answer. */
  readonly awaiting?: "agents";
  readonly ts: number;
  /** False when the thread's engine is not in memory (it is reopened by the answer). */
  readonly live: boolean;
}

/** The fields of a request event the inbox reads (a live Event or a persisted one). */
interface RequestEvent {
  readonly threadId: string;
  readonly turnId?: string | undefined;
  readonly submissionId?: string | undefined;
  readonly ts: number;
  readonly msg: { readonly type: string } & Record<string, unknown>;
}

/** An inbox row for a `permission_requested` or `user_input_requested` event; undefined for other events. */
export function inboxRow(ev: RequestEvent, live: boolean): InboxRow | undefined {
  const m = ev.msg as Record<string, unknown> & { type: string };
  const base = {
    threadId: ev.threadId,
    turnId: ev.turnId,
    submissionId: ev.submissionId,
    requestId: String(m.requestId),
    ts: ev.ts,
    live,
  };
  if (m.type === "permission_requested")
    return {
      ...base,
      kind: "permission",
      tool: String(m.tool),
      input: m.input,
      ...(typeof m.reason === "string" ? { reason: m.reason } : {}),
      suggestions: (m.suggestions as string[] | undefined) ?? [],
    };
  if (m.type === "user_input_requested")
    return {
      ...base,
      kind: "user_input",
      question: String(m.question),
      ...(Array.isArray(m.options) ? { options: m.options as string[] } : {}),
      ...(m.awaiting === "agents" ? { awaiting: "agents" as const } : {}),
    };
  return undefined;
}

/**
 * The requests a transcript's open turn still waits on: asked in that turn, not resolved
 * (`permission_resolved`), and — for questions — not followed by their call's output.
 * Empty when no turn is open.
 */
export function parkedRequests(threadId: string, lines: readonly RolloutLine[]): InboxRow[] {
  let turnId: string | undefined;
  let submissionId: string | undefined;
  let open = false;
  let asked = new Map<string, InboxRow & { callId?: string }>();
  for (const line of lines) {
    if (line.type === "turn_context") {
      open = true;
      turnId = line.payload.turnId;
      submissionId = line.payload.submissionId;
      asked = new Map();
    } else if (line.type === "rollback") {
      open = false;
      asked = new Map();
    } else if (line.type === "response_item" && open) {
      const item = line.payload;
      if (item.type === "function_call_output")
        for (const [id, row] of asked) if (row.callId === item.callId) asked.delete(id);
    } else if (line.type === "event") {
      const msg = line.payload.msg;
      if (msg.type === "turn_completed" || msg.type === "turn_failed" || msg.type === "turn_aborted") {
        open = false;
        asked = new Map();
      } else if (msg.type === "permission_resolved") asked.delete(msg.requestId);
      else if (open && (msg.type === "permission_requested" || msg.type === "user_input_requested")) {
        const row = inboxRow(
          {
            threadId,
            turnId: line.payload.turnId ?? turnId,
            submissionId: line.payload.submissionId ?? submissionId,
            ts: line.ts,
            msg: msg as RequestEvent["msg"],
          },
          false,
        );
        if (row) asked.set(row.requestId, { ...row, ...(msg.callId ? { callId: msg.callId } : {}) });
      }
    }
  }
  if (!open) return [];
  return [...asked.values()].map(({ callId: _c, ...row }) => row);
}
