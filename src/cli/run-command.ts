import { isTaifengError } from "../errors.ts";
import { ModelRegistry } from "../llm/resolve.ts";
import type { ModelClient } from "../llm/types.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { Event } from "../protocol/index.ts";
import { demoModel, demoTools } from "./demo.ts";
import { type CliIO, EXIT, readAll, UsageError, wantsColor } from "./io.ts";
import { createRenderer } from "./render.ts";
import { openStorage } from "./threads-command.ts";

/** Flags of `taifeng run`. */
export interface RunFlags {
  readonly model?: string;
  readonly json?: boolean;
  readonly system?: string;
  readonly maxSteps?: string;
  readonly storage?: string;
  readonly thread?: string;
}

/** The model spec used when `--model` is absent. */
export function defaultModelSpec(): string {
  return "sim:demo";
}

function parsePositiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return Number(value);
}

async function resolveModel(spec: string, io: CliIO): Promise<ModelClient> {
  const registry = new ModelRegistry();
  try {
    return await registry.resolve(spec, { env: io.env, defaultSimScript: demoModel });
  } catch (err) {
    if (isTaifengError(err)) throw new UsageError(err.message);
    throw err;
  }
}

/**
 * `taifeng run [PROMPT]`: runs one turn and streams it. Returns the exit code: 0 completed,
 * 1 failed, 2 bad usage, 130 interrupted with Ctrl-C.
 */
export async function runCommand(promptArg: string | undefined, flags: RunFlags, io: CliIO): Promise<number> {
  let prompt = promptArg;
  if (prompt === undefined && io.stdin.isTTY !== true) prompt = await readAll(io.stdin);
  if (prompt === undefined || prompt.trim() === "") {
    throw new UsageError("no prompt: pass PROMPT as an argument or pipe it on stdin");
  }
  const maxSteps = parsePositiveInt("--max-steps", flags.maxSteps);
  const model = await resolveModel(flags.model ?? defaultModelSpec(), io);
  const write = flags.json
    ? (ev: Event) => io.stdout.write(`${JSON.stringify(ev)}\n`)
    : createRenderer({ out: io.stdout, err: io.stderr, color: wantsColor(io.stderr, io.env) });

  const store = openStorage(flags.storage, io);
  let engine: AgentEngine;
  try {
    if (flags.thread !== undefined && !(await store.exists(flags.thread))) {
      throw new UsageError(`no thread ${flags.thread} in ${store.dir} (taifeng threads ls lists them)`);
    }
    engine = await AgentEngine.open({
      model,
      tools: demoTools(),
      cwd: io.cwd,
      store,
      listeners: [write],
      ...(flags.thread !== undefined ? { threadId: flags.thread } : {}),
      ...(flags.system !== undefined ? { system: flags.system } : {}),
      ...(maxSteps !== undefined ? { maxSteps } : {}),
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  let interrupted = false;
  const removeHandler = io.onInterrupt(() => {
    if (interrupted) return; // a second Ctrl-C is handled by the entry point
    interrupted = true;
    if (engine.status !== "closed") engine.submit({ type: "interrupt", reason: "Ctrl-C" });
  });
  let code: number = EXIT.failed;
  try {
    const id = engine.submit(prompt);
    for await (const ev of engine.subscribe(id)) {
      if (ev.msg.type === "turn_completed") code = EXIT.ok;
      else if (ev.msg.type === "turn_failed") code = EXIT.failed;
      else if (ev.msg.type === "turn_aborted") code = interrupted ? EXIT.interrupted : EXIT.failed;
    }
  } finally {
    removeHandler();
    await engine.close();
    await store.close();
  }
  if (!flags.json) io.stderr.write(`thread ${engine.threadId} (continue with --thread ${engine.threadId})\n`);
  return code;
}
