import { TaifengError } from "../errors.ts";
import type { Event, FilePart, ImagePart, ResponseItem, Usage } from "../protocol/index.ts";
import { AgentEngine, type EngineOptions } from "./engine.ts";
import { RequestDesk, type RequestHandler, type TurnReply, type TurnRequest } from "./run-requests.ts";

export type { RequestHandler, TurnReply, TurnRequest } from "./run-requests.ts";

/**
 * Options for `run` and `stream`: engine options plus per-call extras. Nobody but
 * `onRequest` (and, for `stream`, a caller that set `interactive`) can answer a request
 * here, so without them the engine runs non-interactive whatever `interactive` or
 * `permissions.interactive` say: a call that needs an approval is denied at once, and
 * `ask_user` tells the model that no user can answer. Nothing ever waits forever.
 */
export interface RunOptions extends EngineOptions {
  /** Aborting it interrupts the turn. */
  readonly signal?: AbortSignal;
  readonly images?: readonly ImagePart[];
  readonly files?: readonly FilePart[];
  /** Answers approvals and `ask_user` questions in code (see RequestHandler). */
  readonly onRequest?: RequestHandler;
}

/** Options for `stream`. */
export interface RunStreamOptions extends RunOptions {
  /**
   * `true`: the caller answers requests itself, through the stream's `approve`, `deny` and
   * `answer`, as it sees `permission_requested` / `user_input_requested` events. Requests wait
   * for that answer (bounded by `permissions.approvalTimeoutMs` for approvals, when set);
   * when every iteration of the stream stops before the turn ends, what is pending and
   * everything asked later is refused. Default false.
   */
  readonly interactive?: boolean;
}

/** What a completed run produced. */
export interface RunResult {
  readonly threadId: string;
  /** The final answer. */
  readonly text: string;
  /** Parsed structured output, when `output` was set. */
  readonly output: unknown;
  /** The thread's history after the turn. */
  readonly items: readonly ResponseItem[];
  readonly usage: Usage;
  readonly steps: number;
  /** Every event of the turn. */
  readonly events: readonly Event[];
}

/** `stream`'s return value: iterate the events; `result` settles when the turn ends. */
export interface RunStream extends AsyncIterable<Event> {
  readonly result: Promise<RunResult>;
  /** Requests waiting for an answer now, oldest first. */
  readonly pending: readonly TurnRequest[];
  /**
   * Allows a pending tool call (`always`: also for the rest of the session, with the
   * request's suggested rules; `editedInput` replaces its input). False when no request with
   * this id is waiting (already answered, or the turn ended).
   */
  approve(
    requestId: string,
    options?: { readonly always?: boolean; readonly editedInput?: unknown },
  ): boolean;
  /** Denies a pending tool call; the model reads `reason`. False when nothing waits under this id. */
  deny(requestId: string, reason?: string): boolean;
  /** Answers a pending `ask_user` question. False when nothing waits under this id. */
  answer(requestId: string, text: string): boolean;
}

/**
 * Runs one prompt to completion on a fresh engine (or `threadId` in `store`) and returns
 * the answer. Uses exactly the engine pipeline. Approvals and `ask_user` questions go to
 * `onRequest`; without it they are refused at once (never waited on). Rejects with
 * TaifengError `turn_failed` or `turn_aborted` (the events are in `details.events`).
 */
export async function run(prompt: string, options: RunOptions): Promise<RunResult> {
  return drive(prompt, options, new RequestDesk(options.onRequest, false), () => {});
}

/**
 * Like `run`, but yields every event of the turn as it happens. The turn starts at once
 * (iterating is optional): `result` settles when it ends, and iteration never throws for a
 * failed turn (only when the engine cannot open). Requests go to `onRequest`, and with
 * `interactive: true` wait for the stream's `approve` / `deny` / `answer`; otherwise they
 * are refused at once.
 */
export function stream(prompt: string, options: RunStreamOptions): RunStream {
  const desk = new RequestDesk(options.onRequest, options.interactive === true);
  const events: Event[] = [];
  let finished = false;
  let failure: unknown;
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of waiters) w();
    waiters.clear();
  };
  const result = drive(prompt, options, desk, (ev) => {
    events.push(ev);
    notify();
  }).then(
    (r) => {
      finished = true;
      notify();
      return r;
    },
    (err: unknown) => {
      finished = true;
      failure = err;
      notify();
      throw err;
    },
  );
  result.catch(() => {}); // surfaced to whoever awaits `result`
  let iterating = 0;
  async function* iterate(): AsyncGenerator<Event> {
    let index = 0;
    iterating++;
    try {
      for (;;) {
        while (index < events.length) yield events[index++] as Event;
        if (finished) break;
        await new Promise<void>((resolve) => waiters.add(resolve));
      }
    } finally {
      iterating--;
      // The last reader left before the end: nobody will answer what the turn asks.
      if (!finished && iterating === 0) desk.abandon();
    }
    if (events.length === 0 && failure !== undefined) throw failure;
  }
  const reply = (requestId: string, r: TurnReply) => desk.reply(requestId, r);
  return {
    result,
    [Symbol.asyncIterator]: iterate,
    get pending() {
      return desk.pending;
    },
    approve: (requestId, o) =>
      reply(requestId, {
        decision: o?.always ? "allow_always" : "allow_once",
        ...(o?.editedInput !== undefined ? { editedInput: o.editedInput } : {}),
      }),
    deny: (requestId, reason) =>
      reply(requestId, { decision: "deny", ...(reason !== undefined ? { reason } : {}) }),
    answer: (requestId, text) => reply(requestId, { answer: text }),
  };
}

async function drive(
  prompt: string,
  options: RunOptions,
  desk: RequestDesk,
  onEvent: (ev: Event) => void,
): Promise<RunResult> {
  // The caller has no engine to submit answers to: only the desk can answer, so requests
  // wait only when it can (never on something nobody will answer).
  const engine = await AgentEngine.open({ ...options, interactive: desk.answerable });
  desk.attach(engine);
  const onAbort = () => {
    try {
      engine.submit({ type: "interrupt", reason: "signal aborted" });
    } catch {
      // the engine already closed
    }
  };
  const events: Event[] = [];
  try {
    const op: Parameters<AgentEngine["submit"]>[0] = { type: "user_input", text: prompt };
    if (options.images) op.images = [...options.images];
    if (options.files) op.files = [...options.files];
    const id = engine.submit(op);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
    for await (const ev of engine.subscribe(id)) {
      events.push(ev);
      desk.observe(ev);
      onEvent(ev);
    }
    return toResult(engine, events);
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    await engine.close();
  }
}

function toResult(engine: AgentEngine, events: readonly Event[]): RunResult {
  const end = events.findLast(
    (e) => e.msg.type === "turn_completed" || e.msg.type === "turn_failed" || e.msg.type === "turn_aborted",
  );
  const msg = end?.msg;
  if (msg?.type === "turn_completed") {
    return {
      threadId: engine.threadId,
      text: msg.text,
      output: msg.output,
      items: engine.items.slice(),
      usage: msg.usage,
      steps: msg.steps,
      events,
    };
  }
  if (msg?.type === "turn_aborted") {
    throw new TaifengError("turn_aborted", `the turn was aborted: ${msg.message}`, { details: { events } });
  }
  if (msg?.type === "turn_failed") {
    throw new TaifengError("turn_failed", `the turn failed (${msg.error.code}): ${msg.error.message}`, {
      details: { events, error: msg.error },
    });
  }
  throw new TaifengError("internal", "the turn ended without a terminal event", { details: { events } });
}
