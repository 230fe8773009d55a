import { describeError } from "../errors.ts";
import { identityOf } from "../permission/identity.ts";
import type { ToolOutput } from "../protocol/index.ts";
import type { Tool, ToolContext } from "../tool/define.ts";
import { normalizeResult } from "../tool/result.ts";
import type { HookRunner } from "./runner.ts";
import type { HookFailure, HookPayloads } from "./types.ts";

/** What the post_tool wrapper needs from its engine. */
export interface ToolHookHost {
  readonly runner: HookRunner;
  /** Context lines pre_tool hooks attached to a call (consumed). */
  takeContext(callId: string): string[];
  /** How the call was permitted (consumed). */
  takePermission(callId: string): HookPayloads["post_tool"]["permission"];
  permissionMode(): string | undefined;
  report(turnId: string, failure: HookFailure): void;
}

/**
 * Wraps a tool so that, after it runs, post_tool hooks see its output and may block it (the
 * reason is appended and the output marked as an error) or add context; context from
 * pre_tool hooks is appended too. The wrapped tool keeps every property of the original;
 * thrown errors become the same model-readable output the scheduler would produce.
 */
export function withToolHooks<I>(tool: Tool<I>, host: ToolHookHost): Tool<I> {
  const rule = identityOf(tool).rule;
  const execute = async (input: I, ctx: ToolContext) => {
    let result: { output: ToolOutput; isError: boolean };
    try {
      result = normalizeResult(await tool.execute(input, ctx));
    } catch (err) {
      result = { output: `Tool ${tool.name} failed: ${describeError(err)}`, isError: true };
    }
    const extra = host.takeContext(ctx.callId);
    let isError = result.isError;
    if (host.runner.has("post_tool") && !ctx.signal.aborted) {
      const permission = host.takePermission(ctx.callId);
      const outcome = await host.runner.run(
        {
          point: "post_tool",
          threadId: ctx.threadId,
          turnId: ctx.turnId,
          cwd: ctx.cwd,
          permissionMode: host.permissionMode(),
          tool: tool.name,
          rule,
          callId: ctx.callId,
          input,
          output: result.output,
          isError,
          status: isError ? "error" : "ok",
          ...(permission ? { permission } : {}),
        },
        { signal: ctx.signal, report: (f) => host.report(ctx.turnId, f), matchOn: [tool.name, rule] },
      );
      extra.push(...outcome.context);
      if (outcome.decision === "deny") {
        extra.push(`A hook flagged this result: ${outcome.reason ?? "no reason given"}`);
        isError = true;
      }
    } else {
      host.takePermission(ctx.callId);
    }
    return { output: appendText(result.output, extra), isError };
  };
  return { ...tool, execute };
}

function appendText(output: ToolOutput, lines: readonly string[]): ToolOutput {
  if (lines.length === 0) return output;
  const text = lines.join("\n");
  if (typeof output === "string") return output === "" ? text : `${output}\n\n${text}`;
  return [...output, { type: "text", text }];
}
