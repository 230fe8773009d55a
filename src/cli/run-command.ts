import { relative } from "node:path";
import type { TaifengConfig } from "../config/schema.ts";
import { isTaifengError } from "../errors.ts";
import { defaultModelFromEnv } from "../llm/providers/index.ts";
import { ModelRegistry } from "../llm/resolve.ts";
import type { ModelClient } from "../llm/types.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { McpManager } from "../mcp/manager.ts";
import { loadProjectMemory } from "../memory/load.ts";
import { type ProjectMemory, projectMemory } from "../memory/prepare.ts";
import { defenseCommandCheck } from "../permission/defense/check.ts";
import { type Event, isTurnEnd, type Op } from "../protocol/index.ts";
import { createRedactor } from "../redact/redactor.ts";
import type { Redactor } from "../redact/types.ts";
import type { Sandbox } from "../sandbox/sandbox.ts";
import { SkillRuntime } from "../skill/runtime.ts";
import { sandboxedScriptRunner } from "../skill/sandbox-runner.ts";
import { BUILTIN_TOOL_NAMES, builtinTools } from "../tool/builtin/index.ts";
import { createApprover } from "./approval-prompt.ts";
import { loadCliConfig } from "./config-command.ts";
import { demoModel, demoTools } from "./demo.ts";
import { type CliIO, EXIT, UsageError, wantsColor } from "./io.ts";
import { expandMcpPrompt, openMcp } from "./mcp-command.ts";
import { otelWanted } from "./otel-env.ts";
import type { CliTelemetry } from "./otel-setup.ts";
import { createRenderer } from "./render.ts";
import { hasAgentFiles, openRunTree, type RunTree, runAgentDefinitions } from "./run-agents.ts";
import { type AskPolicy, checkNonInteractive, type RunFlags, readPrompt, runSettings } from "./run-flags.ts";
import { cliSinks } from "./sinks-flags.ts";
import { formatProblem } from "./skills-command.ts";
import { checkThreadId, defaultStorageDir, openStorage } from "./threads-command.ts";
import { configTrust, decideProjectTrust } from "./trust-prompt.ts";

export type { RunFlags } from "./run-flags.ts";

/**
 * The model spec used when `--model` is absent: the first provider whose key is set
 * (OPENAI_API_KEY -> openai:gpt-5-mini, ANTHROPIC_API_KEY -> anthropic:claude-haiku-4-5,
 * GEMINI_API_KEY or GOOGLE_API_KEY -> google:gemini-2.5-flash, DEEPSEEK_API_KEY ->
 * deepseek:deepseek-chat), else the built-in simulator demo.
 */
export function defaultModelSpec(env: CliIO["env"] = {}): string {
  return defaultModelFromEnv(env) ?? "sim:demo";
}

async function resolveModel(
  spec: string,
  flags: RunFlags,
  io: CliIO,
  modelOptions: Record<string, unknown> | undefined,
): Promise<ModelClient> {
  const registry = new ModelRegistry();
  try {
    return await registry.resolve(spec, {
      env: io.env,
      defaultSimScript: demoModel,
      ...(flags.baseUrl !== undefined ? { baseUrl: flags.baseUrl } : {}),
      ...(flags.apiKeyEnv !== undefined ? { apiKeyEnv: flags.apiKeyEnv } : {}),
      ...(modelOptions ? { modelOptions } : {}),
    });
  } catch (err) {
    if (isTaifengError(err)) throw new UsageError(err.message);
    throw err;
  }
}

/**
 * The model `taifeng run` would use for `spec` (or the default), for other commands;
 * `provider` carries a configured provider's base URL and key variable.
 */
export function resolveRunModel(
  spec: string | undefined,
  io: CliIO,
  provider: { readonly baseUrl?: string; readonly apiKeyEnv?: string } = {},
): Promise<ModelClient> {
  return resolveModel(spec ?? defaultModelSpec(io.env), provider, io, undefined);
}

/**
 * The skills a run sees: `--skills` folders, then the project's and the user's. A missing
 * `--skills` folder is a usage error; a skill that cannot load is reported on stderr.
 */
async function openSkills(
  dirs: readonly string[],
  io: CliIO,
  sandboxFor: (root: string) => Sandbox,
  redactor: Redactor,
  projectTrust: () => boolean,
): Promise<SkillRuntime> {
  const skills = await SkillRuntime.open({
    redactor,
    projectTrust,
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
export async function runCommand(promptArg: string | undefined, given: RunFlags, io: CliIO): Promise<number> {
  checkNonInteractive(given.nonInteractive, promptArg !== undefined);
  let prompt = await readPrompt(promptArg, io);
  // The configuration file supplies what the flags leave out (flags win); an untrusted
  // project's file applies only what cannot widen anything (ADR 2051).
  const early = await configTrust({
    io,
    flag: given.trust === true,
    interactive: given.nonInteractive === undefined && io.stdin.isTTY === true,
    file: given.config,
  });
  const loaded = loadCliConfig(io, given.config, undefined, early.trusted);
  const config = loaded.config;
  const flags = withConfig(given, config);
  const settings = runSettings(flags, io);
  const backend = flags.backend ?? config.backend?.type ?? "inline";
  if (backend !== "inline" && backend !== "bullmq")
    throw new UsageError(`--backend must be inline or bullmq, got "${backend}"`);
  if (backend === "bullmq") {
    const { runQueued } = await import("./run-queued.ts");
    return runQueued(prompt, flags, settings, config, io, flags.model ?? defaultModelSpec(io.env));
  }
  const store = openStorage(flags.storage, io);
  if (flags.thread !== undefined) checkThreadId(store, flags.thread);
  let model: ModelClient;
  try {
    model = await resolveModel(flags.model ?? defaultModelSpec(io.env), flags, io, settings.modelOptions);
  } catch (err) {
    await store.close();
    throw err;
  }
  const { asking, output } = settings;
  // With an output schema, stdout gets the validated JSON, not the streamed text.
  const write = flags.json
    ? (ev: Event) => io.stdout.write(`${JSON.stringify(ev)}\n`)
    : createRenderer({
        out: io.stdout,
        err: io.stderr,
        color: wantsColor(io.stderr, io.env),
        text: output === undefined,
      });
  // Secrets of the CLI's own environment are masked in everything it shows and keeps.
  const redactor = createRedactor({ env: io.env });
  const builtins = builtinTools({
    sandbox: { level: settings.sandbox },
    // ask_user only where a question can be answered, or where asking must fail the turn.
    only: BUILTIN_TOOL_NAMES.filter(
      (name) => name !== "task_finish" && (asking !== "deny" || name !== "ask_user"),
    ),
  });
  // Answers and notices are attached before the engine opens: a resumed turn asks at once.
  const target = bindLater();
  // With child agents, an answer goes to whichever agent asked.
  let runTree: RunTree | undefined;
  const answers = { submit: (op: Op) => runTree?.answer(op) || target.submit(op) };
  const approver = asking === "terminal" ? createApprover(answers, io.stdin, io.stderr) : undefined;
  const watch = watchRun(io, target, asking);
  const sinks = cliSinks(flags, io, redactor);
  let engine: AgentEngine;
  let skills: SkillRuntime | undefined;
  let telemetry: CliTelemetry | undefined;
  let mcp: McpManager | undefined;
  try {
    if (flags.otel || otelWanted(io.env)) {
      // Loaded only when asked for: a plain run never pays for the OpenTelemetry modules.
      const { setupCliTelemetry } = await import("./otel-setup.ts");
      telemetry = await setupCliTelemetry(io, flags.otelContent === true);
    }
    if (flags.thread !== undefined && !(await store.exists(flags.thread))) {
      throw new UsageError(`no thread ${flags.thread} in ${store.dir} (taifeng threads ls lists them)`);
    }
    let trusted = false;
    skills = await openSkills(flags.skills ?? [], io, builtins.sandboxFor, redactor, () => trusted);
    // Before anything runs: may the project's own files widen permissions or run code?
    const decision = await decideProjectTrust({
      io,
      flag: flags.trust === true,
      interactive: asking === "terminal",
      registry: skills.registry,
      decided: early.decided,
    });
    trusted = decision.trusted;
    mcp = await openMcp(
      flags,
      io,
      trusted,
      decision.projectRoot,
      flags.storage ?? defaultStorageDir(io.env),
      loaded.mcpServers,
    );
    const memory = flags.projectMemory === false ? undefined : openProjectMemory(io, decision.projectRoot);
    const prepareTurn = memory ? memory.prepareTurn(skills.prepareTurn) : skills.prepareTurn;
    prompt = await expandMcpPrompt(prompt, mcp);
    const tools = [...builtins.tools, ...demoTools()];
    const options: Parameters<typeof AgentEngine.open>[0] = {
      model,
      tools,
      cwd: io.cwd,
      store,
      redactor,
      listeners: [
        write,
        watch.listener,
        ...(approver ? [approver.listener] : []),
        ...(sinks ? [sinks.listener] : []),
      ],
      resolveModel: (spec) => resolveModel(spec, flags, io, settings.modelOptions),
      ...(mcp ? mcp.engineOptions({ tools, prepareTurn }) : { prepareTurn }),
      ...(flags.thread !== undefined ? { threadId: flags.thread } : {}),
      interactive: asking !== "deny",
      completion: settings.completion,
      ...(output ? { output } : {}),
      permissions: {
        settings: { env: io.env, projectTrust: trusted },
        commandCheck: defenseCommandCheck,
        rules: {
          allow: [...(config.permissions?.allow ?? []), ...(flags.allow ?? [])],
          deny: [...(config.permissions?.deny ?? []), ...(flags.deny ?? [])],
          ask: [...(config.permissions?.ask ?? [])],
        },
        ...(settings.mode !== undefined ? { mode: settings.mode } : {}),
      },
      hooks: { fromSettings: config.hooks?.fromSettings ?? true },
      ...(config.limits?.maxToolOutputChars !== undefined
        ? { maxToolOutputChars: config.limits.maxToolOutputChars }
        : {}),
      ...(flags.system !== undefined ? { system: flags.system } : {}),
      ...(settings.maxSteps !== undefined ? { maxSteps: settings.maxSteps } : {}),
    };
    if (flags.agents || hasAgentFiles(io)) {
      const instrument = telemetry?.otel.instrument.bind(telemetry.otel);
      runTree = await openRunTree(options, {
        io,
        json: flags.json === true,
        store,
        agents: await runAgentDefinitions(io, trusted),
        rootListeners: [write],
        everyAgent: [
          watch.listener,
          ...(approver ? [approver.listener] : []),
          ...(sinks ? [sinks.listener] : []),
        ],
        ...(instrument ? { instrument } : {}),
      });
      engine = runTree.engine;
    } else engine = await AgentEngine.open(telemetry ? telemetry.otel.instrument(options) : options);
  } catch (err) {
    approver?.close();
    await telemetry?.shutdown();
    await sinks?.close();
    skills?.close();
    await mcp?.close();
    await builtins.close();
    await store.close();
    if (isTaifengError(err, "invalid_config")) throw new UsageError(err.message);
    throw err;
  }
  target.bind(engine);
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
      const msg = ev.msg;
      if (msg.type === "turn_completed") {
        code = EXIT.ok;
        if (output && !flags.json) io.stdout.write(`${JSON.stringify(msg.output, null, 2)}\n`);
      } else if (msg.type === "turn_failed") code = EXIT.failed;
      else if (msg.type === "turn_aborted")
        code = interrupted && !watch.failed ? EXIT.interrupted : EXIT.failed;
    }
  } finally {
    removeHandler();
    approver?.close();
    await (runTree ? runTree.tree.close() : engine.close());
    await telemetry?.shutdown();
    await sinks?.close();
    await mcp?.close();
    await builtins.close();
    skills?.close();
    await store.close();
  }
  if (!flags.json)
    io.stderr.write(
      `${runTree?.summary() ?? ""}thread ${engine.threadId} (continue with --thread ${engine.threadId})\n`,
    );
  return code;
}

/**
 * The flags with the configuration file's values where a flag is absent: model (with its
 * fallbacks) and its provider's base URL and key variable, storage, system prompt, step
 * limit, permission mode, skills folders and telemetry. Rules are merged by the caller.
 */
function withConfig(flags: RunFlags, config: TaifengConfig): RunFlags {
  const model =
    flags.model ?? (config.model ? [config.model, ...(config.fallbacks ?? [])].join(",") : undefined);
  const provider = model === undefined ? undefined : config.providers?.[model.split(":")[0] ?? ""];
  const baseUrl = flags.baseUrl ?? provider?.baseUrl;
  const apiKeyEnv = flags.apiKeyEnv ?? provider?.apiKeyEnv;
  const storage = flags.storage ?? config.storage?.dir;
  const system = flags.system ?? config.system;
  const maxSteps = flags.maxSteps ?? config.limits?.maxSteps?.toString();
  const permissionMode = flags.permissionMode ?? config.permissions?.mode;
  return {
    ...flags,
    ...(model !== undefined ? { model } : {}),
    ...(baseUrl !== undefined ? { baseUrl } : {}),
    ...(apiKeyEnv !== undefined ? { apiKeyEnv } : {}),
    ...(storage !== undefined ? { storage } : {}),
    ...(system !== undefined ? { system } : {}),
    ...(maxSteps !== undefined ? { maxSteps } : {}),
    ...(permissionMode !== undefined ? { permissionMode } : {}),
    skills: [...(flags.skills ?? []), ...(config.skills?.dirs ?? [])],
    ...(flags.otel || config.telemetry?.otel ? { otel: true } : {}),
    ...(flags.otelContent || config.telemetry?.otelContent ? { otelContent: true } : {}),
  };
}

/**
 * The project's AGENTS.md / CLAUDE.md files for the run's prompt (unless
 * `--no-project-memory`); the files found are named on stderr.
 */
function openProjectMemory(io: CliIO, projectRoot: string): ProjectMemory {
  const home = io.env.HOME ?? false;
  const first = loadProjectMemory({ cwd: io.cwd, root: projectRoot, home });
  if (first.sources.length > 0)
    io.stderr.write(
      `project memory: ${first.sources.map((s) => relative(io.cwd, s.path) || s.path).join(", ")}\n`,
    );
  return projectMemory({ root: projectRoot, home });
}

/** Where answers go: the engine, once it is open (answers given before are held until then). */
function bindLater(): { submit(op: Op): void; bind(engine: AgentEngine): void } {
  let engine: AgentEngine | undefined;
  const held: Op[] = [];
  return {
    submit(op) {
      if (engine) engine.submit(op);
      else held.push(op);
    },
    bind(e) {
      engine = e;
      for (const op of held.splice(0)) e.submit(op);
    },
  };
}

/**
 * What `taifeng run` says beside the events: that a turn suspended before a crash is
 * finished first (and how it ended), and, under `--non-interactive fail`, which request
 * failed the turn.
 */
function watchRun(
  io: CliIO,
  target: { submit(op: Op): void },
  asking: AskPolicy,
): { listener: (ev: Event) => void; readonly failed: boolean } {
  let resumed: string | undefined;
  let failed = false;
  const say = (line: string) => io.stderr.write(`taifeng: ${line}\n`);
  return {
    get failed() {
      return failed;
    },
    listener(ev) {
      const msg = ev.msg;
      if (msg.type === "thread_opened" && msg.resumedTurn) {
        resumed = msg.resumedTurn.submissionId;
        say(
          `this thread had a turn waiting for an answer when its process stopped (${msg.resumedTurn.turnId}); finishing it before your prompt`,
        );
      } else if (isTurnEnd(msg) && ev.submissionId === resumed && resumed !== undefined) {
        resumed = undefined;
        say(
          `the resumed turn ${msg.type === "turn_completed" ? "completed" : msg.type === "turn_failed" ? `failed (${msg.error.code})` : "was aborted"}; now your prompt`,
        );
      } else if (
        asking === "fail" &&
        !failed &&
        (msg.type === "permission_requested" || msg.type === "user_input_requested")
      ) {
        failed = true;
        say(
          msg.type === "permission_requested"
            ? `${msg.tool} needs an approval (${msg.reason ?? "asked by the rules"}) and --non-interactive fail is set: failing the turn`
            : `the model asked "${msg.question}" and --non-interactive fail is set: failing the turn`,
        );
        // Not from inside the event callback: the engine is still delivering this event.
        queueMicrotask(() => {
          try {
            target.submit({ type: "interrupt", reason: "a request needs a person (--non-interactive fail)" });
          } catch {
            // the turn already ended
          }
        });
      }
    },
  };
}
