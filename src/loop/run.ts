import { TaifengError } from "../errors.ts";
import type { Event, FilePart, ImagePart, ResponseItem, Usage } from "../protocol/index.ts";
import { AgentEngine, type EngineOptions } from "./engine.ts";

/** Options for `run` and `stream`: engine options plus per-call extras. */
export interface RunOptions extends EngineOptions {
  /** Aborting it interrupts the turn. */
  readonly signal?: AbortSignal;
  readonly images?: readonly ImagePart[];
  readonly files?: readonly FilePart[];
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
}

/**
 * Runs one prompt to completion on a fresh engine (or `threadId` in `store`) and returns
 * the answer. Uses exactly the engine pipeline. Rejects with TaifengError `turn_failed`
 * or `turn_aborted` (the events are in `details.events`).
 */
export async function run(prompt: string, options: RunOptions): Promise<RunResult> {
  return drive(prompt, options, () => {});
}

/**
 * Like `run`, but yields every event of the turn as it happens. The turn starts at once
 * (iterating is optional): `result` settles when it ends, and iteration never throws for a
 * failed turn (only when the engine cannot open).
 */
export function stream(prompt: string, options: RunOptions): RunStream {
  const events: Event[] = [];
  let finished = false;
  let failure: unknown;
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of waiters) w();
    waiters.clear();
  };
  const result = drive(prompt, options, (ev) => {
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
  async function* iterate(): AsyncGenerator<Event> {
    let index = 0;
    for (;;) {
      while (index < events.length) yield events[index++] as Event;
      if (finished) break;
      await new Promise<void>((resolve) => waiters.add(resolve));
    }
    if (events.length === 0 && failure !== undefined) throw failure;
  }
  return { result, [Symbol.asyncIterator]: iterate };
}

async function drive(prompt: string, options: RunOptions, onEvent: (ev: Event) => void): Promise<RunResult> {
  // Nobody can answer an approval here (the caller has no engine to submit to): asks are
  // denied at once rather than waiting forever, unless the caller says otherwise.
  const engine = await AgentEngine.open(
    options.permissions
      ? { ...options, permissions: { interactive: false, ...options.permissions } }
      : options,
  );
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
