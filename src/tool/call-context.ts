import type { ToolBatchEnv } from "./batch-env.ts";
import type { ToolContext } from "./define.ts";

/** `850 ms`, `2.3 s`, `95 s`: how long something took, for messages the model reads. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/**
 * The context one call's `execute` gets from its batch. Progress is forwarded as
 * `tool_call_progress` only while `running()` says the call is still running.
 */
export function callContext(
  env: ToolBatchEnv,
  callId: string,
  name: string,
  signal: AbortSignal,
  running: () => boolean,
): ToolContext {
  const ask = env.askUser;
  const park = env.park;
  return {
    signal,
    threadId: env.threadId,
    turnId: env.turnId,
    callId,
    cwd: env.cwd,
    progress: (data) => {
      if (running()) env.emit({ type: "tool_call_progress", callId, name, data });
    },
    askUser: ask ? (question, options) => ask({ callId, question, options, signal }) : undefined,
    artifacts: env.artifacts,
    park: park ? (reason, wake) => park({ callId, reason, signal, wake }) : undefined,
  };
}
