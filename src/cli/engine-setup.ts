/**
 * Engine options from the configuration file, shared by `taifeng serve` and `taifeng chat`:
 * the model (with fallbacks and the provider's settings), built-in tools, skills,
 * permissions, hooks and limits. The same loader and the same shape as `taifeng run`.
 */
import { join } from "node:path";
import type { LoadedConfig } from "../config/load.ts";
import type { EngineOptions } from "../loop/engine.ts";
import type { McpManager } from "../mcp/manager.ts";
import { defenseCommandCheck } from "../permission/defense/check.ts";
import { createRedactor } from "../redact/redactor.ts";
import { SkillRuntime } from "../skill/runtime.ts";
import { sandboxedScriptRunner } from "../skill/sandbox-runner.ts";
import { BUILTIN_TOOL_NAMES, builtinTools } from "../tool/builtin/index.ts";
import type { CliIO } from "./io.ts";
import { defaultModelSpec, resolveRunModel } from "./run-command.ts";
import { defaultStorageDir } from "./threads-command.ts";

/** What a long-running command needs to open engines, and how to release it. */
export interface EngineSetup {
  readonly options: Omit<EngineOptions, "store" | "threadId" | "listeners">;
  readonly storageDir: string;
  readonly modelSpec: string;
  close(): Promise<void>;
}

/**
 * Builds the engine options. `trusted`: the project folder's own settings may widen
 * permissions and run hooks (`--trust`); `interactive`: someone can answer approvals.
 */
export async function engineSetup(
  loaded: LoadedConfig,
  io: CliIO,
  flags: { readonly trusted: boolean; readonly interactive: boolean },
): Promise<EngineSetup> {
  const config = loaded.config;
  const main = config.model ?? defaultModelSpec(io.env);
  const modelSpec = [main, ...(config.fallbacks ?? [])].join(",");
  const provider = config.providers?.[main.split(":")[0] ?? ""] ?? {};
  const model = await resolveRunModel(modelSpec, io, provider);
  const redactor = createRedactor({ env: io.env });
  const builtins = builtinTools({
    sandbox: { level: 0 },
    only: BUILTIN_TOOL_NAMES.filter((n) => n !== "task_finish"),
    ...(config.limits?.maxToolOutputChars !== undefined
      ? { maxOutputChars: config.limits.maxToolOutputChars }
      : {}),
  });
  let skills: SkillRuntime | undefined;
  try {
    skills = await SkillRuntime.open({
      redactor,
      projectTrust: () => flags.trusted,
      dirs: config.skills?.dirs ?? [],
      runScript: sandboxedScriptRunner({ sandbox: builtins.sandboxFor }),
      cwd: io.cwd,
      ...(io.env.HOME ? { home: io.env.HOME } : {}),
      host: { env: io.env, platform: process.platform },
    });
  } catch (err) {
    await builtins.close();
    throw err;
  }
  // MCP servers of the configuration file (the SDK is an optional peer: loaded only when needed).
  let mcp: { engineOptions: McpManager["engineOptions"]; close(): Promise<void> } | undefined;
  if (loaded.mcpServers.length > 0) {
    try {
      const [{ McpManager }, { fileTaskLedger }] = await Promise.all([
        import("../mcp/manager.ts"),
        import("../mcp/task-ledger.ts"),
      ]);
      // MCP tasks a call started are kept beside the threads, so a resumed call follows its task.
      const taskLedger = fileTaskLedger(join(config.storage?.dir ?? defaultStorageDir(io.env), "mcp-tasks"));
      mcp = await McpManager.open({
        servers: loaded.mcpServers,
        env: io.env as NodeJS.ProcessEnv,
        taskLedger,
      });
    } catch (err) {
      skills.close();
      await builtins.close();
      throw err;
    }
  }
  const perms = config.permissions ?? {};
  const options: EngineSetup["options"] = {
    model,
    cwd: io.cwd,
    redactor,
    resolveModel: (spec) => resolveRunModel(spec, io, config.providers?.[spec.split(":")[0] ?? ""] ?? {}),
    ...(mcp
      ? mcp.engineOptions({ tools: builtins.tools, prepareTurn: skills.prepareTurn })
      : { tools: builtins.tools, ...skills.engineOptions() }),
    permissions: {
      settings: { env: io.env, projectTrust: flags.trusted },
      commandCheck: defenseCommandCheck,
      rules: { allow: perms.allow ?? [], deny: perms.deny ?? [], ask: perms.ask ?? [] },
      interactive: flags.interactive,
      ...(perms.mode !== undefined ? { mode: perms.mode } : {}),
    },
    interactive: flags.interactive,
    hooks: { fromSettings: config.hooks?.fromSettings ?? true },
    ...(config.system !== undefined ? { system: config.system } : {}),
    ...(config.limits?.maxSteps !== undefined ? { maxSteps: config.limits.maxSteps } : {}),
    ...(config.limits?.maxToolOutputChars !== undefined
      ? { maxToolOutputChars: config.limits.maxToolOutputChars }
      : {}),
  };
  const opened = skills;
  return {
    options,
    storageDir: config.storage?.dir ?? defaultStorageDir(io.env),
    modelSpec,
    async close() {
      await mcp?.close();
      opened.close();
      await builtins.close();
    },
  };
}
