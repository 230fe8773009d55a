/** Persistent root agents: an engine that stays open, takes tasks, wakes on timers, and ends with a summary. */
import type { AgentEngine } from "../loop/engine.ts";
import type { SubmissionId } from "../protocol/index.ts";

/** Options of `keepAlive`. */
export interface KeepAliveOptions {
  /** Wakes the agent every `everyMs` with `text` (queued behind running work, never concurrent). */
  readonly every?: { readonly everyMs: number; readonly text: string };
  /** What the agent is asked at shutdown. Default: a request for a final summary. */
  readonly summaryPrompt?: string;
}

/** A persistent root agent's handle. */
export interface PersistentAgent {
  /** Queues a new task; resolves with its submission id. */
  task(text: string): SubmissionId;
  /** Wakes the agent once after `delayMs` with `text`; returns a canceller. */
  wakeAfter(delayMs: number, text: string): () => void;
  /** Wakes so far (timers and `wakeAfter`). */
  readonly wakes: number;
  /**
   * Stops the timers, asks for the final summary (after queued work), closes the engine and
   * resolves with the summary (empty when the summary turn did not complete).
   */
  shutdown(): Promise<string>;
}

const SUMMARY =
  "You are shutting down. Write a final summary of what you did in this session, what is still open, and anything the next session must know.";

/**
 * Keeps an engine as a persistent root agent. Wakes and tasks are ordinary turns on its thread
 * (so they are in the transcript); timers live in this process: after a restart, call
 * `keepAlive` again on the reopened engine.
 */
export function keepAlive(engine: AgentEngine, options: KeepAliveOptions = {}): PersistentAgent {
  const timers = new Set<NodeJS.Timeout>();
  let wakes = 0;
  let closed = false;
  const wake = (text: string) => {
    if (closed || engine.status === "closed") return;
    wakes++;
    engine.submit(text);
  };
  if (options.every) {
    const every = options.every;
    const t = setInterval(() => wake(every.text), every.everyMs);
    t.unref?.();
    timers.add(t);
  }
  return {
    task: (text) => engine.submit(text),
    wakeAfter: (delayMs, text) => {
      const t = setTimeout(() => {
        timers.delete(t);
        wake(text);
      }, delayMs);
      t.unref?.();
      timers.add(t);
      return () => {
        clearTimeout(t);
        timers.delete(t);
      };
    },
    get wakes() {
      return wakes;
    },
    async shutdown() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      let summary = "";
      if (engine.status !== "closed") {
        const events = await engine.submitAndWait(options.summaryPrompt ?? SUMMARY);
        const end = events.at(-1)?.msg;
        if (end?.type === "turn_completed") summary = end.text;
        await engine.close();
      }
      return summary;
    },
  };
}
