import { isTaifengError } from "../errors.ts";
import { defaultModelFromEnv } from "../llm/providers/index.ts";
import { ModelRegistry } from "../llm/resolve.ts";
import type { ModelClient } from "../llm/types.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { McpManager } from "../mcp/manager.ts";
import { defenseCommandCheck } from "../permission/defense/check.ts";
import { isPermissionMode, PERMISSION_MODES } from "../permission/modes.ts";
import type { Event } from "../protocol/index.ts";
import type { Sandbox } from "../sandbox/sandbox.ts";
import { SkillRuntime } from "../skill/runtime.ts";
import { sandboxedScriptRunner } from "../skill/sandbox-runner.ts";
import { BUILTIN_TOOL_NAMES, builtinTools } from "../tool/builtin/index.ts";
import { createApprover } from "./approval-prompt.ts";
import { demoModel, demoTools } from "./demo.ts";
import { type CliIO, EXIT, readAll, UsageError, wantsColor } from "./io.ts";
import { expandMcpPrompt, openMcp } from "./mcp-command.ts";
import { createRenderer } from "./render.ts";
import { formatProblem } from "./skills-command.ts";
import { openStorage } from "./threads-command.ts";

/** Flags of `taifeng run`. */
export interface RunFlags {
  readonly model?: string;
  /** Passed to the provider SDK as its base URL. */
  readonly baseUrl?: string;
  /** Read the API key from this environment variable instead of the provider's default. */
  readonly apiKeyEnv?: string;
  readonly json?: boolean;
  readonly system?: string;
  readonly maxSteps?: string;
  readonly sandbox?: string;
  /** Extra skills folders (`--skills`, repeatable). */
  readonly skills?: readonly string[];
  readonly storage?: string;
  readonly thread?: string;
  /** Permission mode for this run (overrides settings' defaultMode). */
  readonly permissionMode?: string;
  /** Extra allow / deny rules, at command-line precedence. */
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
  /** Extra `.mcp.json`-shaped files (`--mcp-config`). */
  readonly mcpConfig?: readonly string[];
  /** Load the project's `.mcp.json` (trusted folders only). */
  readonly projectMcp?: boolean;
}

/**
 * The model spec used when `--model` is absent: the first provider whose key is set
 * (OPENAI_API_KEY -> openai:gpt-5-mini, ANTHROPIC_API_KEY -> anthropic:claude-haiku-4-5,
 * GEMINI_API_KEY or GOOGLE_API_KEY -> google:gemini-2.5-flash, DEEPSEEK_API_KEY ->
 * deepseek:deepseek-chat), else the built-in simulator demo.
 */
export function defaultModelSpec(env: CliIO["env"] = {}): string {
  return defaultModelFromEnv(env) ?? "sim:demo";
}

function parsePositiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return Number(value);
}

async function resolveModel(spec: string, flags: RunFlags, io: CliIO): Promise<ModelClient> {
  const registry = new ModelRegistry();
  try {
    return await registry.resolve(spec, {
      env: io.env,
      defaultSimScript: demoModel,
      ...(flags.baseUrl !== undefined ? { baseUrl: flags.baseUrl } : {}),
      ...(flags.apiKeyEnv !== undefined ? { apiKeyEnv: flags.apiKeyEnv } : {}),
    });
  } catch (err) {
    if (isTaifengError(err)) throw new UsageError(err.message);
    throw err;
  }
}

/** The model `taifeng run` would use for `spec` (or the default), for other commands. */
export function resolveRunModel(spec: string | undefined, io: CliIO): Promise<ModelClient> {
  return resolveModel(spec ?? defaultModelSpec(io.env), {}, io);
}

/**
 * The skills a run sees: `--skills` folders, then the project's and the user's. A missing
 * `--skills` folder is a usage error; a skill that cannot load is reported on stderr.
 */
async function openSkills(
  dirs: readonly string[],
  io: CliIO,
  sandboxFor: (root: string) => Sandbox,
): Promise<SkillRuntime> {
  const skills = await SkillRuntime.open({
    dirs,
    // Skill scripts run in the same sandboxes as bash (--sandbox).
    runScript: sandboxedScriptRunner({ sandbox: sandboxFor }),
    cwd: io.cwd,
    ...(io.env.HOME ? { home: io.env.HOME } : {}),
    host: { env: io.env, platform: process.platform },
  });
  const load = skills.registry.current;
  const missing = load.problems.find((p) => p.code === "root_missing");
  if (missing) throw new UsageError(missing.message);
  for (const report of load.reports)
    for (const p of report.problems)
      if (p.severity === "error") io.stderr.write(`taifeng: skill ${formatProblem(p, io.cwd)}\n`);
  return skills;
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
  const mode = flags.permissionMode;
  if (mode !== undefined && !isPermissionMode(mode)) {
    throw new UsageError(`--permission-mode must be one of ${PERMISSION_MODES.join(", ")}; got "${mode}"`);
  }
  const model = await resolveModel(flags.model ?? defaultModelSpec(io.env), flags, io);
  const write = flags.json
    ? (ev: Event) => io.stdout.write(`${JSON.stringify(ev)}\n`)
    : createRenderer({ out: io.stdout, err: io.stderr, color: wantsColor(io.stderr, io.env) });

  const sandbox =
    flags.sandbox === undefined ? 0 : flags.sandbox === "0" ? 0 : flags.sandbox === "1" ? 1 : undefined;
  if (sandbox === undefined) throw new UsageError(`--sandbox must be 0 or 1, got "${flags.sandbox}"`);
  // Approvals and ask_user questions need someone at a terminal; without one, asks are denied.
  const interactive = io.stdin.isTTY === true;
  const store = openStorage(flags.storage, io);
  const builtins = builtinTools({
    sandbox: { level: sandbox },
    only: BUILTIN_TOOL_NAMES.filter((name) => name !== "task_finish" && (interactive || name !== "ask_user")),
  });
  let engine: AgentEngine;
  let skills: SkillRuntime | undefined;
  let mcp: McpManager | undefined;
  try {
    if (flags.thread !== undefined && !(await store.exists(flags.thread))) {
      throw new UsageError(`no thread ${flags.thread} in ${store.dir} (taifeng threads ls lists them)`);
    }
    skills = await openSkills(flags.skills ?? [], io, builtins.sandboxFor);
    mcp = await openMcp(flags, io);
    prompt = await expandMcpPrompt(prompt, mcp);
    const tools = [...builtins.tools, ...demoTools()];
    engine = await AgentEngine.open({
      model,
      tools,
      cwd: io.cwd,
      store,
      listeners: [write],
      resolveModel: (spec) => resolveModel(spec, flags, io),
      ...(mcp ? mcp.engineOptions({ tools, prepareTurn: skills.prepareTurn }) : skills.engineOptions()),
      ...(flags.thread !== undefined ? { threadId: flags.thread } : {}),
      permissions: {
        settings: { env: io.env },
        interactive,
        commandCheck: defenseCommandCheck,
        rules: { allow: [...(flags.allow ?? [])], deny: [...(flags.deny ?? [])] },
        ...(mode !== undefined ? { mode } : {}),
      },
      hooks: { fromSettings: true },
      ...(flags.system !== undefined ? { system: flags.system } : {}),
      ...(maxSteps !== undefined ? { maxSteps } : {}),
    });
  } catch (err) {
    skills?.close();
    await mcp?.close();
    await builtins.close();
    await store.close();
    if (isTaifengError(err, "invalid_config")) throw new UsageError(err.message);
    throw err;
  }
  const approver = interactive ? createApprover(engine, io.stdin, io.stderr) : undefined;
  if (approver) engine.on(approver.listener);
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
    approver?.close();
    await engine.close();
    await mcp?.close();
    await builtins.close();
    skills?.close();
    await store.close();
  }
  if (!flags.json) io.stderr.write(`thread ${engine.threadId} (continue with --thread ${engine.threadId})\n`);
  return code;
}
