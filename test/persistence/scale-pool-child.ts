// A real server-like process for the scale tests: one EnginePool on a JsonlThreadStore with
// many sessions, each on its own thread (`thr_s<i>`, resumed when it exists), running turns
// concurrently. Prints one JSON line per fact the parent checks (stdout writes to a pipe are
// synchronous on Linux, so a printed line survives kill -9).
import { z } from "zod";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { type AgentEngine, defineTool, EnginePool, SimClient } from "../../src/index.ts";
import { itemsHash } from "./child-protocol.ts";

/** What the parent asks for (argv[2], JSON). */
export interface PoolChildConfig {
  readonly dir: string;
  readonly sessions: number;
  /** Turns per session; null = until killed. */
  readonly turns: number | null;
  /** Milliseconds before each simulated model step, so turns overlap. */
  readonly latencyMs: number;
  /** After the turns, print `holding` and keep every engine (and thread lock) open. */
  readonly hold?: boolean;
  readonly maxOpenFiles?: number;
  readonly walCheckpointMs?: number;
  readonly syncfsMin?: number | false;
}

/** One line of the child's stdout. */
export type PoolChildMessage =
  | { type: "opened"; sessions: number }
  | { type: "ack"; threadId: string; turnId: string; hash: string }
  | { type: "failed"; threadId: string; end: string; error?: string }
  | { type: "done"; stats: ReturnType<JsonlThreadStore["stats"]>; maxOpen: number }
  | { type: "holding" }
  | { type: "closing" };

function say(message: PoolChildMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

const config = JSON.parse(process.argv[2] as string) as PoolChildConfig;
const store = new JsonlThreadStore({
  dir: config.dir,
  ...(config.maxOpenFiles !== undefined ? { maxOpenFiles: config.maxOpenFiles } : {}),
  ...(config.walCheckpointMs !== undefined ? { walCheckpointMs: config.walCheckpointMs } : {}),
  ...(config.syncfsMin !== undefined ? { syncfsMin: config.syncfsMin } : {}),
});
const lookup = defineTool({
  name: "lookup",
  description: "Looks a key up.",
  schema: z.object({ q: z.string() }),
  readOnly: true,
  execute: ({ q }) => `value of ${q}`,
});
const model = new SimClient({
  name: "pool",
  script: {
    steps: [
      (request) => {
        const last = request.items.at(-1);
        return last?.type === "message" && last.role === "user"
          ? {
              delayMs: config.latencyMs,
              text: "Looking it up.",
              toolCalls: [{ name: "lookup", arguments: { q: String(request.items.length) } }],
            }
          : { delayMs: config.latencyMs, text: ["The answer ", `has ${request.items.length} items.`] };
      },
    ],
    onExhausted: "repeat_last",
  },
});
const pool = await EnginePool.create({
  model,
  tools: [lookup],
  store,
  context: false,
  maxEngines: config.sessions + 10,
  idleTimeoutMs: 0,
});

async function session(i: number): Promise<void> {
  const threadId = `thr_s${i}`;
  const engine: AgentEngine = await pool.getOrCreate({ sessionId: `s${i}`, threadId });
  const last = config.turns ?? Number.POSITIVE_INFINITY;
  for (let turn = 0; turn < last; turn++) {
    const start = engine.items.length;
    for await (const ev of engine.subscribe(engine.submit(`Turn ${turn} of ${threadId}`))) {
      const msg = ev.msg;
      if (msg.type === "turn_completed") {
        say({
          type: "ack",
          threadId,
          turnId: ev.turnId as string,
          hash: itemsHash(engine.items.slice(start)),
        });
      } else if (msg.type === "turn_failed" || msg.type === "turn_aborted") {
        say({
          type: "failed",
          threadId,
          end: msg.type,
          ...(msg.type === "turn_failed" ? { error: msg.error.message } : {}),
        });
        return;
      }
    }
  }
}

// A warm server: the first engine opens alone (tool descriptions are read and cached), then
// every other session starts at once.
await pool.getOrCreate({ sessionId: "s0", threadId: "thr_s0" });
const sessions = Array.from({ length: config.sessions }, (_, i) => session(i));
say({ type: "opened", sessions: config.sessions });
await Promise.all(sessions);
say({ type: "done", stats: store.stats(), maxOpen: store.maxOpenFiles });
if (config.hold) {
  say({ type: "holding" });
  setInterval(() => {}, 60_000);
} else {
  say({ type: "closing" });
  await pool.close({ drainMs: 0 });
  await store.close();
}
