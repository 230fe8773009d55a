import { z } from "zod";
import { spawnGroup } from "../sandbox/lifeline.ts";
import { CLAUDE_EVENT_NAMES, type CommandHook, type HookEvent, type HookResponse } from "./types.ts";

/** How one run of a shell hook ended. */
export type ShellHookResult =
  | { readonly kind: "response"; readonly response: HookResponse }
  | { readonly kind: "failed"; readonly code: "hook_failed" | "hook_timeout"; readonly message: string }
  | { readonly kind: "aborted" };

const MAX_CAPTURE = 1 << 20;

/** The JSON a Claude Code hook may print on stdout (exit 0); unknown keys are ignored. */
const ClaudeHookOutput = z.looseObject({
  continue: z.boolean().optional(),
  stopReason: z.string().optional(),
  decision: z.enum(["approve", "block", "allow", "deny", "ask"]).optional(),
  reason: z.string().optional(),
  updatedInput: z.unknown().optional(),
  additionalContext: z.string().optional(),
  hookSpecificOutput: z
    .looseObject({
      permissionDecision: z.enum(["allow", "deny", "ask"]).optional(),
      permissionDecisionReason: z.string().optional(),
      updatedInput: z.unknown().optional(),
      additionalContext: z.string().optional(),
    })
    .optional(),
});

/** Points where plain (non-JSON) stdout of a successful hook is context for the model. */
const PLAIN_TEXT_CONTEXT = new Set(["user_prompt_submit"]);

/** The stdin document: Claude Code's field names, plus Taifeng's own under `taifeng_*`. */
export function hookInput(event: HookEvent): Record<string, unknown> {
  const { point, threadId, turnId, cwd, permissionMode, ...payload } = event as HookEvent &
    Record<string, unknown>;
  const input: Record<string, unknown> = {
    session_id: threadId,
    hook_event_name: CLAUDE_EVENT_NAMES[point],
    cwd,
    permission_mode: permissionMode,
    taifeng_event: point,
    taifeng_turn_id: turnId,
  };
  if (point === "pre_tool" || point === "post_tool") {
    input.tool_name = payload.tool;
    input.tool_input = payload.input;
    input.tool_use_id = payload.callId;
    input.taifeng_rule = payload.rule;
    if (point === "post_tool") {
      input.tool_response = { output: payload.output, isError: payload.isError, status: payload.status };
    }
  } else if (point === "user_prompt_submit") {
    input.prompt = payload.prompt;
  } else {
    Object.assign(input, payload);
  }
  return input;
}

/**
 * Runs a shell-command hook: `sh -c COMMAND` in its own process group, the event as JSON on
 * stdin. Exit 0: stdout JSON (Claude Code's `decision`, `continue`/`stopReason`,
 * `hookSpecificOutput.permissionDecision`/`updatedInput`/`additionalContext`) is the
 * answer; plain stdout is context at user_prompt_submit. Exit 2: block,
 * stderr is the reason. Other exits, bad JSON, spawn errors and timeouts are failures. On
 * timeout or abort the whole process group is killed. Never throws.
 */
export function runCommandHook(
  hook: CommandHook,
  event: HookEvent,
  options: {
    readonly timeoutMs: number;
    readonly signal: AbortSignal;
    readonly env: Record<string, string | undefined>;
  },
): Promise<ShellHookResult> {
  return new Promise((resolve) => {
    if (options.signal.aborted) return resolve({ kind: "aborted" });
    let stdout = "";
    let stderr = "";
    let settled = false;
    let timedOut = false;
    // Its own process group, which dies with this process (see sandbox/lifeline.ts).
    const child = spawnGroup("/bin/sh", ["-c", hook.command], {
      cwd: hook.cwd ?? event.cwd,
      env: { ...options.env, ...hook.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const finish = (result: ShellHookResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const onAbort = () => {
      kill();
      finish({ kind: "aborted" });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
      finish({ kind: "failed", code: "hook_timeout", message: `timed out after ${options.timeoutMs} ms` });
    }, options.timeoutMs);
    options.signal.addEventListener("abort", onAbort, { once: true });
    child.stdout?.on("data", (d: Buffer) => {
      if (stdout.length < MAX_CAPTURE) stdout += d.toString("utf8");
    });
    child.stderr?.on("data", (d: Buffer) => {
      if (stderr.length < MAX_CAPTURE) stderr += d.toString("utf8");
    });
    child.on("error", (err) =>
      finish({ kind: "failed", code: "hook_failed", message: `cannot start: ${err.message}` }),
    );
    child.on("close", (code, signal) => {
      if (timedOut) return;
      finish(interpret(event.point, code, signal, stdout, stderr));
    });
    child.stdin?.on("error", () => {}); // a hook that ignores stdin may close it early
    child.stdin?.end(JSON.stringify(hookInput(event)));
  });
}

function interpret(
  point: HookEvent["point"],
  code: number | null,
  signal: NodeJS.Signals | null,
  stdout: string,
  stderr: string,
): ShellHookResult {
  if (code === 2) {
    return {
      kind: "response",
      response: { decision: "block", reason: stderr.trim() || "blocked by a hook" },
    };
  }
  if (code !== 0) {
    const how = code === null ? `was killed by ${signal}` : `exited with code ${code}`;
    const detail = stderr.trim() ? `: ${stderr.trim().slice(0, 500)}` : "";
    return { kind: "failed", code: "hook_failed", message: `${how}${detail}` };
  }
  const text = stdout.trim();
  if (!text.startsWith("{")) {
    return {
      kind: "response",
      response: text !== "" && PLAIN_TEXT_CONTEXT.has(point) ? { additionalContext: text } : {},
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return {
      kind: "failed",
      code: "hook_failed",
      message: `printed invalid JSON: ${(err as Error).message}`,
    };
  }
  const parsed = ClaudeHookOutput.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      kind: "failed",
      code: "hook_failed",
      message: `printed JSON that does not fit the hook protocol: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
    };
  }
  return { kind: "response", response: fromClaude(parsed.data) };
}

function fromClaude(out: z.infer<typeof ClaudeHookOutput>): HookResponse {
  const specific = out.hookSpecificOutput;
  const response: HookResponse = {};
  if (out.decision === "approve" || out.decision === "allow") response.decision = "allow";
  else if (out.decision === "block" || out.decision === "deny") response.decision = "block";
  else if (out.decision === "ask") response.decision = "ask";
  if (specific?.permissionDecision) response.decision = specific.permissionDecision;
  const reason = specific?.permissionDecisionReason ?? out.reason;
  if (reason !== undefined) response.reason = reason;
  if (out.continue === false) {
    response.decision = "block";
    response.reason = out.stopReason ?? reason ?? "stopped by a hook";
  }
  const updated = specific?.updatedInput ?? out.updatedInput;
  if (updated !== undefined) response.updatedInput = updated;
  const context = specific?.additionalContext ?? out.additionalContext;
  if (context !== undefined) response.additionalContext = context;
  return response;
}
