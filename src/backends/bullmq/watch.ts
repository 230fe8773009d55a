/** Knowing when an engine has nothing left to do for now: idle, or waiting on a person. */
import type { AgentEngine } from "../../loop/engine.ts";

/** What the worker tracks of an engine's events. */
export interface Watched {
  /** Requests to a person not answered yet (by request id). */
  readonly waiting: ReadonlySet<string>;
  /** A user_input_answer was submitted for this request. */
  answered(requestId: string): void;
  /** Resolves at the next event (or after `ms`). */
  tick(ms: number): Promise<void>;
  stop(): void;
}

/** Follows an engine's events: open requests to a person, and a wake-up on every event. */
export function watchEngine(engine: AgentEngine): Watched {
  const waiting = new Set<string>();
  const byCall = new Map<string, string>();
  let wake: (() => void) | undefined;
  const off = engine.on((event) => {
    const msg = event.msg;
    switch (msg.type) {
      case "permission_requested":
        waiting.add(msg.requestId);
        byCall.set(msg.callId, msg.requestId);
        break;
      case "user_input_requested":
        waiting.add(msg.requestId);
        if (msg.callId !== undefined) byCall.set(msg.callId, msg.requestId);
        break;
      case "permission_resolved":
        waiting.delete(msg.requestId);
        break;
      case "tool_call_completed": {
        const req = byCall.get(msg.callId);
        if (req !== undefined) waiting.delete(req);
        break;
      }
      case "turn_completed":
      case "turn_failed":
      case "turn_aborted":
        waiting.clear();
        byCall.clear();
        break;
      default:
        break;
    }
    const w = wake;
    wake = undefined;
    w?.();
  });
  return {
    waiting,
    answered: (requestId) => waiting.delete(requestId),
    tick: (ms) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wake = undefined;
          resolve();
        }, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
    stop: off,
  };
}

/** Waits until the engine is idle, waits on a person, or is closed. */
export async function settle(engine: AgentEngine, watched: Watched): Promise<void> {
  for (;;) {
    if (engine.status === "closed" || engine.idle || watched.waiting.size > 0) return;
    await watched.tick(5);
  }
}
