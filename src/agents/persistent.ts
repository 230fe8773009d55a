/** Persistent root agents: an engine that stays open, takes tasks, wakes on timers, and ends with a summary. */
import type { ThreadStore } from "../conversation/store.ts";
import type { AgentEngine } from "../loop/engine.ts";
import { newId, type RolloutLine, type SubmissionId } from "../protocol/index.ts";

/** Options of `keepAlive`. */
export interface KeepAliveOptions {
  /** Wakes the agent every `everyMs` with `text` (queued behind running work, never concurrent). */
  readonly every?: { readonly everyMs: number; readonly text: string };
  /** What the agent is asked at shutdown. Default: a request for a final summary. */
  readonly summaryPrompt?: string;
  /**
   * The store the engine's thread lives in. Given, the schedule survives a restart: `keepAlive`
   * on the reopened engine re-arms every `wakeAfter` that had not fired (one already due fires
   * at once, once) and keeps `every` on its grid (a periodic wake missed while the process was
   * down fires once, not once per missed period). See `ready`.
   */
  readonly store?: ThreadStore;
}

/** A persistent root agent's handle. */
export interface PersistentAgent {
  /** Queues a new task; resolves with its submission id. */
  task(text: string): SubmissionId;
  /**
   * Wakes the agent once after `delayMs` with `text`; returns a canceller. The timer is
   * recorded in the thread (`wake_scheduled`) before it is armed.
   */
  wakeAfter(delayMs: number, text: string): () => void;
  /** Wakes so far (timers and `wakeAfter`), in this process. */
  readonly wakes: number;
  /** Resolves when the recorded schedule has been read and re-armed (at once without `store`). */
  readonly ready: Promise<void>;
  /**
   * Stops the timers, asks for the final summary (after queued work), closes the engine and
   * resolves with the summary (empty when the summary turn did not complete). Recorded timers
   * that have not fired stay in the thread for the next `keepAlive`.
   */
  shutdown(): Promise<string>;
}

const SUMMARY =
  "You are shutting down. Write a final summary of what you did in this session, what is still open, and anything the next session must know.";

/** The mark a wake's turn starts with: how a restart tells a fired wake from a pending one. */
const FIRED = /^\[wake (\S+)\]/;
const EVERY = "every";

/**
 * Keeps an engine as a persistent root agent. Wakes and tasks are ordinary turns on its thread
 * (so they are in the transcript); a wake's message starts with `[wake <id>]`. With `store`,
 * timers are durable (see KeepAliveOptions.store); without it they live in this process.
 */
export function keepAlive(engine: AgentEngine, options: KeepAliveOptions = {}): PersistentAgent {
  const timers = new Map<string, NodeJS.Timeout>();
  let wakes = 0;
  let closed = false;
  const fire = (id: string, text: string) => {
    timers.delete(id);
    if (closed || engine.status === "closed") return;
    wakes++;
    engine.submit(`[wake ${id}] ${text}`);
  };
  const arm = (id: string, dueAt: number, text: string) => {
    const t = setTimeout(() => fire(id, text), Math.max(0, dueAt - Date.now()));
    t.unref?.();
    timers.set(id, t);
  };
  const every = options.every;
  const periodic = (firstDue: number) => {
    if (!every) return;
    const tick = (due: number) => {
      const t = setTimeout(
        () => {
          if (closed || engine.status === "closed") return;
          wakes++;
          engine.submit(`[wake ${EVERY}] ${every.text}`);
          tick(Math.max(due + every.everyMs, Date.now() + 1));
        },
        Math.max(0, due - Date.now()),
      );
      t.unref?.();
      timers.set(EVERY, t);
    };
    tick(firstDue);
  };
  const ready = options.store
    ? restore(options.store, engine.threadId).then((found) => {
        if (closed) return;
        for (const w of found.pending) arm(w.wakeId, w.dueAt, w.text);
        if (every) {
          const next =
            found.lastEvery === undefined ? Date.now() + every.everyMs : found.lastEvery + every.everyMs;
          periodic(next);
        }
      })
    : Promise.resolve().then(() => periodic(Date.now() + (every?.everyMs ?? 0)));
  return {
    task: (text) => engine.submit(text),
    wakeAfter: (delayMs, text) => {
      const wakeId = newId("wk");
      const dueAt = Date.now() + delayMs;
      // Recorded first: a wake that is armed is in the transcript.
      const recorded = engine.record({ type: "wake_scheduled", wakeId, dueAt, text }).then(
        () => {
          if (!closed) arm(wakeId, dueAt, text);
        },
        () => {},
      );
      return () => {
        const t = timers.get(wakeId);
        if (t) clearTimeout(t);
        timers.delete(wakeId);
        void recorded.then(() => {
          const t2 = timers.get(wakeId);
          if (t2) clearTimeout(t2);
          timers.delete(wakeId);
          if (engine.status !== "closed")
            engine.record({ type: "wake_scheduled", wakeId, dueAt, text, cancelled: true }).catch(() => {});
        });
      };
    },
    get wakes() {
      return wakes;
    },
    ready,
    async shutdown() {
      closed = true;
      for (const t of timers.values()) clearTimeout(t);
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

/** The recorded schedule: wakes set and neither fired nor cancelled, and the last periodic wake. */
async function restore(
  store: ThreadStore,
  threadId: string,
): Promise<{ pending: { wakeId: string; dueAt: number; text: string }[]; lastEvery: number | undefined }> {
  const lines: RolloutLine[] = (await store.exists(threadId)) ? await store.read(threadId) : [];
  const set = new Map<string, { wakeId: string; dueAt: number; text: string }>();
  const fired = new Set<string>();
  let lastEvery: number | undefined;
  for (const line of lines) {
    if (line.type === "event" && line.payload.msg.type === "wake_scheduled") {
      const m = line.payload.msg;
      if (m.cancelled) set.delete(m.wakeId);
      else set.set(m.wakeId, { wakeId: m.wakeId, dueAt: m.dueAt, text: m.text });
    } else if (
      line.type === "response_item" &&
      line.payload.type === "message" &&
      line.payload.role === "user"
    ) {
      const first = line.payload.content[0];
      const id = first?.type === "text" ? FIRED.exec(first.text)?.[1] : undefined;
      if (id === EVERY) lastEvery = line.ts;
      else if (id !== undefined) fired.add(id);
    }
  }
  return { pending: [...set.values()].filter((w) => !fired.has(w.wakeId)), lastEvery };
}
