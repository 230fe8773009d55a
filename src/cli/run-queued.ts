/**
 * `taifeng run --backend bullmq`: the turn is submitted through the queue and run by a worker
 * (`taifeng worker`); this process only follows its events and reads the outcome from the store.
 */
import type { TaifengConfig } from "../config/schema.ts";
import { describeError, isTaifengError } from "../errors.ts";
import type { Event } from "../protocol/index.ts";
import { BUILTIN_TOOL_NAMES } from "../tool/builtin/index.ts";
import { type CliIO, EXIT, UsageError, wantsColor } from "./io.ts";
import { createRenderer } from "./render.ts";
import type { RunFlags, RunSettings } from "./run-flags.ts";

/** The recipe a queued run sends: the run's flags and configuration, as data. */
export function queuedRecipe(
  flags: RunFlags,
  settings: RunSettings,
  config: TaifengConfig,
  io: CliIO,
  model: string,
): Record<string, unknown> {
  const tools =
    flags.tools !== undefined && flags.tools.length > 0
      ? flags.tools
          .flatMap((t) => t.split(","))
          .map((t) => t.trim())
          .filter(Boolean)
      : (config.backend?.tools ?? BUILTIN_TOOL_NAMES.filter((n) => n !== "task_finish" && n !== "ask_user"));
  const allow = [...(config.permissions?.allow ?? []), ...(flags.allow ?? [])];
  const deny = [...(config.permissions?.deny ?? []), ...(flags.deny ?? [])];
  const ask = [...(config.permissions?.ask ?? [])];
  return {
    model,
    tools,
    cwd: io.cwd,
    // Nobody sits at a worker: a call that would ask is denied (the model reads why).
    interactive: false,
    completion: settings.completion,
    ...(flags.system !== undefined ? { system: flags.system } : {}),
    ...(settings.maxSteps !== undefined ? { maxSteps: settings.maxSteps } : {}),
    permissions: {
      ...(settings.mode !== undefined ? { mode: settings.mode } : {}),
      allow,
      deny,
      ask,
    },
  };
}

/**
 * Runs one prompt through the BullMQ backend: creates the thread (or continues `--thread`),
 * submits, prints the worker's events as they arrive (Redis pub/sub) and returns the exit code
 * from the outcome in PostgreSQL: 0 completed, 1 failed or rejected, 130 interrupted (Ctrl-C
 * interrupts the turn on whichever worker runs it). Needs DATABASE_URL; REDIS_URL defaults to
 * the local Redis.
 */
export async function runQueued(
  prompt: string,
  flags: RunFlags,
  settings: RunSettings,
  config: TaifengConfig,
  io: CliIO,
  model: string,
): Promise<number> {
  const databaseUrl = io.env.DATABASE_URL;
  if (!databaseUrl)
    throw new UsageError("--backend bullmq needs DATABASE_URL (the PostgreSQL thread store the workers use)");
  if (settings.output !== undefined)
    throw new UsageError("--output-schema is not supported with --backend bullmq yet");
  const { BullmqBackend, PgThreadStore } = await import("../backends/index.ts");
  const b = config.backend ?? {};
  const store = new PgThreadStore({
    connectionString: databaseUrl,
    maxConnections: 4,
    ...(b.schema ? { schema: b.schema } : {}),
  });
  const backend = new BullmqBackend({
    store,
    ...(io.env.REDIS_URL ? { redisUrl: io.env.REDIS_URL } : {}),
    ...(b.queue ? { queue: b.queue } : {}),
    ...(b.prefix ? { prefix: b.prefix } : {}),
  });
  const write = flags.json
    ? (ev: Event) => io.stdout.write(`${JSON.stringify(ev)}\n`)
    : createRenderer({ out: io.stdout, err: io.stderr, color: wantsColor(io.stderr, io.env), text: true });
  const following = new AbortController();
  let interrupted = false;
  const removeHandler = io.onInterrupt(() => {
    if (interrupted) return;
    interrupted = true;
    backend.interrupt(threadId, "Ctrl-C").catch(() => {});
  });
  let threadId = flags.thread ?? "";
  try {
    if (flags.thread !== undefined) {
      if (!(await store.exists(flags.thread)))
        throw new UsageError(`no thread ${flags.thread} in the PostgreSQL store (schema ${store.schema})`);
    } else {
      threadId = await backend.createThread({
        recipe: queuedRecipe(flags, settings, config, io, model) as never,
        cwd: io.cwd,
      });
    }
    // Follow before submitting, so no event of the turn is missed.
    const events = await backend.follow(threadId, following.signal);
    // Live: the events of the first turn that starts after the submit (the worker's own
    // lifecycle events are not printed). Should the outcome name another turn (the worker
    // finished an older turn first), that turn's events are printed once it is known.
    let submissionId: string | undefined;
    let live: string | undefined;
    const held = new Map<string, Event[]>();
    let ended = false;
    const printed = (async () => {
      for await (const ev of events) {
        if (ev.msg.type === "turn_started" && live === undefined) live = ev.submissionId;
        if (ev.submissionId === live) write(ev);
        else {
          const key = ev.submissionId ?? "";
          held.set(key, [...(held.get(key) ?? []), ev]);
        }
        if (ev.submissionId === (submissionId ?? live) && isEnd(ev)) {
          ended = true;
          return;
        }
      }
    })();
    const ticket = await backend.submit(threadId, prompt);
    const outcome = await backend.wait(ticket, { throughSuspension: true });
    if ("submissionId" in outcome) submissionId = outcome.submissionId;
    if (submissionId !== undefined && submissionId !== live) {
      live = submissionId;
      ended = (held.get(submissionId) ?? []).some(isEnd);
      for (const ev of held.get(submissionId) ?? []) write(ev);
    }
    // The turn's last events may still be on their way: give them a moment, then stop following.
    const deadline = Date.now() + 2000;
    while (!ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    following.abort();
    await printed;
    switch (outcome.status) {
      case "completed":
        return finish(EXIT.ok);
      case "aborted":
        return finish(interrupted ? EXIT.interrupted : EXIT.failed);
      case "rejected":
        io.stderr.write(`taifeng: the worker could not run this turn: ${outcome.error}\n`);
        return finish(EXIT.failed);
      default:
        return finish(EXIT.failed);
    }
  } catch (err) {
    if (isTaifengError(err) && ["invalid_config", "invalid_op"].includes(err.code))
      throw new UsageError(err.message);
    if (isTaifengError(err)) {
      io.stderr.write(`taifeng: ${describeError(err)}\n`);
      return EXIT.failed;
    }
    throw err;
  } finally {
    following.abort();
    removeHandler();
    await backend.close();
    await store.close();
  }

  function finish(code: number): number {
    if (!flags.json)
      io.stderr.write(`thread ${threadId} (continue with --backend bullmq --thread ${threadId})\n`);
    return code;
  }
}

function isEnd(ev: Event): boolean {
  const t = ev.msg.type;
  return t === "turn_completed" || t === "turn_failed" || t === "turn_aborted";
}
