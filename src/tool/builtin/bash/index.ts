import { z } from "zod";
import { loadShellParser } from "../../../permission/shell/index.ts";
import { isRunFailure, type RunResult } from "../../../sandbox/types.ts";
import { defineTool, type Tool, type ToolContext } from "../../define.ts";
import { loadDescription } from "../describe.ts";
import { type BuiltinEnv, failure } from "../env.ts";
import { defenseRefusal, shellArgv } from "./shell.ts";

const Input = z.object({
  command: z.string().min(1).describe("The bash command to run."),
  timeout_ms: z
    .number()
    .int()
    .min(1000)
    .max(600_000)
    .optional()
    .describe("Time limit in ms (default 120000)."),
  run_in_background: z
    .boolean()
    .optional()
    .describe("Start it as a background task and return its id at once."),
  description: z
    .string()
    .optional()
    .describe("A few words saying what the command does (shown to the user)."),
});

/** Where the thread's shell is: its last directory when still inside the workspace, else the root. */
function shellDir(env: BuiltinEnv, ctx: ToolContext, root: string): string {
  const last = env.shellCwd.get(ctx.threadId);
  return last !== undefined && (last === root || last.startsWith(`${root}/`)) ? last : root;
}

function formatResult(result: RunResult, timeoutMs: number): { output: string; isError: boolean } {
  if (isRunFailure(result)) {
    return { output: `The command could not run: ${result.message}`, isError: true };
  }
  const parts: string[] = [];
  const out = result.output.replace(/\n$/, "");
  parts.push(out === "" ? "(no output)" : out);
  if (result.status === "timeout") {
    parts.push(
      `[Killed after ${timeoutMs / 1000} s (timeout). For long-running commands use run_in_background.]`,
    );
  } else if (result.status === "aborted") {
    parts.push("[Killed: the call was cancelled.]");
  } else if (result.exitCode !== 0) {
    parts.push(result.signal ? `[Ended by signal ${result.signal}]` : `[Exit code ${result.exitCode}]`);
  }
  return { output: parts.join("\n"), isError: result.status !== "exited" || result.exitCode !== 0 };
}

/** `bash`: per-thread working directory, timeout, output caps, process-group kill, background tasks. */
export function bashTool(env: BuiltinEnv): Tool<z.output<typeof Input>> {
  // The shell parser loads once per process; start now, not on the first call's path.
  loadShellParser().catch(() => undefined);
  const defaultTimeout = env.options.bash?.defaultTimeoutMs ?? 120_000;
  const maxTimeout = env.options.bash?.maxTimeoutMs ?? 600_000;
  return defineTool({
    name: "bash",
    description: loadDescription(import.meta.url),
    schema: Input,
    // The tool enforces its own limit (with a better message); the engine's is a backstop.
    timeoutMs: maxTimeout + 30_000,
    permission: { rule: "Bash", field: "command" },
    async execute(input, ctx) {
      const ws = env.workspace(ctx);
      const root = ws.localPath("");
      if (root === undefined)
        return failure(`bash needs a local workspace; this one is ${ws.kind} (${ws.root}).`);
      const cwd = shellDir(env, ctx, root);
      if (env.options.commandDefense !== false) {
        const refusal = await defenseRefusal(input.command, cwd);
        if (refusal) return failure(refusal);
      }
      const sandbox = env.sandbox(root);
      const argv = shellArgv(input.command);
      if (input.run_in_background) {
        const started = env.tasks.start(ctx.threadId, {
          command: input.command,
          argv,
          cwd,
          env: env.commandEnv(),
          sandbox,
        });
        if (typeof started === "string") return failure(started);
        return `Started background task ${started.id} in ${cwd}. Read its output with bash_output {"task_id": "${started.id}"}; stop it with bash_kill.`;
      }
      const timeoutMs = Math.min(input.timeout_ms ?? defaultTimeout, maxTimeout);
      let finalCwd = "";
      const result = await sandbox.run({
        argv,
        cwd,
        env: env.commandEnv(),
        timeoutMs,
        signal: ctx.signal,
        maxCaptureBytes: 4 * 1024 * 1024,
        onFd3: (chunk) => {
          finalCwd += chunk.toString("utf8");
        },
      });
      ctx.progress({ type: "sandbox", ...result.sandbox });
      const formatted = formatResult(result, timeoutMs);
      const next = finalCwd.trim();
      if (next !== "") {
        if (next === root || next.startsWith(`${root}/`)) {
          if (next !== cwd) formatted.output += `\n[Working directory is now ${next}]`;
          env.shellCwd.set(ctx.threadId, next);
        } else {
          env.shellCwd.set(ctx.threadId, root);
          formatted.output += `\n[The command moved outside the workspace (${next}); the working directory is back at ${root}]`;
        }
      }
      if ("sandbox" in result && result.sandbox.fallbackReason) {
        formatted.output += `\n[Ran without the level-1 sandbox: ${result.sandbox.fallbackReason}]`;
      }
      return formatted;
    },
  });
}
