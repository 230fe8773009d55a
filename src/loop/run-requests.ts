/** How `run()` and `stream()` answer the requests a turn makes of a person. */
import { describeError } from "../errors.ts";
import type { ApprovalDecision, Event, EventMsgOf, Op } from "../protocol/index.ts";

/** A request a turn makes of a person: approve a tool call, or answer an `ask_user` question. */
export type TurnRequest = EventMsgOf<"permission_requested" | "user_input_requested">;

/**
 * The reply to a TurnRequest: a decision for `permission_requested` (`reason` is shown to the
 * model on deny; `editedInput` replaces the tool input on allow), an answer for
 * `user_input_requested`.
 */
export type TurnReply =
  | { readonly decision: ApprovalDecision; readonly reason?: string; readonly editedInput?: unknown }
  | { readonly answer: string };

/**
 * Answers requests in code. `signal` aborts when the turn no longer waits (it ended, or the
 * request was resolved another way). A handler that throws, or replies with the wrong kind,
 * denies the approval (or tells the model the question went unanswered), with the reason.
 */
export type RequestHandler = (request: TurnRequest, signal: AbortSignal) => TurnReply | Promise<TurnReply>;

/** What the model reads when nobody will answer its question, and why. */
export function noAnswer(why: string): string {
  return `(no answer: ${why}. Make a reasonable choice, state your assumption, and continue.)`;
}

/** Where replies go: the engine of the run, once it is open. */
export interface ReplyTarget {
  submit(op: Op): unknown;
}

/**
 * The desk of one run: sees every request event, hands it to the handler, keeps it pending
 * for the caller (an interactive stream), or refuses it when nobody will answer. Refusals
 * are replies like any other, so the model always reads why a call did not run.
 */
export class RequestDesk {
  private readonly pendingById = new Map<string, { request: TurnRequest; abort: AbortController }>();
  private readonly handler: RequestHandler | undefined;
  private readonly callerAnswers: boolean;
  private target: ReplyTarget | undefined;
  private abandoned = false;

  constructor(handler: RequestHandler | undefined, callerAnswers: boolean) {
    this.handler = handler;
    this.callerAnswers = callerAnswers;
  }

  /** True when someone can answer: the engine should let requests wait. */
  get answerable(): boolean {
    return this.handler !== undefined || this.callerAnswers;
  }

  /** Requests waiting for an answer now, oldest first. */
  get pending(): TurnRequest[] {
    return [...this.pendingById.values()].map((p) => p.request);
  }

  /** Binds the engine the replies go to. */
  attach(target: ReplyTarget): void {
    this.target = target;
  }

  /** Sees one event of the turn. */
  observe(ev: Event): void {
    const msg = ev.msg;
    switch (msg.type) {
      case "permission_requested":
      case "user_input_requested":
        // A wait the runtime ends itself (child agents), not a question for a person.
        if (msg.type !== "user_input_requested" || msg.awaiting === undefined) this.received(msg);
        return;
      case "permission_resolved":
        this.settled(msg.requestId);
        return;
      case "turn_completed":
      case "turn_failed":
      case "turn_aborted":
        for (const id of [...this.pendingById.keys()]) this.settled(id);
        return;
      default:
        return;
    }
  }

  /** Replies to a pending request; false when no request with this id is waiting. */
  reply(requestId: string, reply: TurnReply): boolean {
    const entry = this.pendingById.get(requestId);
    if (!entry) return false;
    this.settled(requestId);
    const request = entry.request;
    let op: Op;
    if (request.type === "permission_requested") {
      op =
        "decision" in reply
          ? {
              type: "approval",
              requestId,
              decision: reply.decision,
              ...(reply.reason !== undefined ? { reason: reply.reason } : {}),
              ...(reply.editedInput !== undefined ? { editedInput: reply.editedInput } : {}),
            }
          : {
              type: "approval",
              requestId,
              decision: "deny",
              reason: "the reply was an answer, not a decision",
            };
    } else {
      op = {
        type: "user_input_answer",
        requestId,
        answer: "answer" in reply ? reply.answer : noAnswer("the reply was a decision, not an answer"),
      };
    }
    try {
      this.target?.submit(op);
    } catch {
      // the engine closed: the request ended with it
    }
    return true;
  }

  /**
   * Nobody will answer from now on (the caller stopped iterating an interactive stream):
   * refuses what is pending and everything asked later.
   */
  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    for (const request of this.pending) this.refuse(request, "nobody is answering requests any more");
  }

  private received(request: TurnRequest): void {
    if (this.pendingById.has(request.requestId)) return;
    this.pendingById.set(request.requestId, { request, abort: new AbortController() });
    if (this.abandoned || !this.answerable) {
      this.refuse(request, "nobody can answer requests in this run");
      return;
    }
    if (this.handler) void this.consult(this.handler, request);
  }

  private async consult(handler: RequestHandler, request: TurnRequest): Promise<void> {
    const entry = this.pendingById.get(request.requestId);
    if (!entry) return;
    let reply: TurnReply;
    try {
      reply = await handler(request, entry.abort.signal);
    } catch (err) {
      this.refuse(request, `the request handler failed: ${describeError(err)}`);
      return;
    }
    if (entry.abort.signal.aborted) return;
    const fits =
      request.type === "permission_requested"
        ? typeof reply === "object" && reply !== null && "decision" in reply
        : typeof reply === "object" &&
          reply !== null &&
          typeof (reply as { answer?: unknown }).answer === "string";
    if (!fits) {
      this.refuse(request, "the request handler replied with the wrong kind of answer");
      return;
    }
    this.reply(request.requestId, reply);
  }

  private refuse(request: TurnRequest, why: string): void {
    this.reply(
      request.requestId,
      request.type === "permission_requested" ? { decision: "deny", reason: why } : { answer: noAnswer(why) },
    );
  }

  private settled(requestId: string): void {
    const entry = this.pendingById.get(requestId);
    if (!entry) return;
    this.pendingById.delete(requestId);
    entry.abort.abort();
  }
}
