import { z } from "zod";
import type { ToolOutput, Usage } from "../protocol/index.ts";

/**
 * Where hooks run. The engine calls pre_tool, post_tool, pre_model, post_model,
 * turn_start, turn_end, user_prompt_submit, session_start and session_end; the compaction
 * and skill subsystems call pre_compact, post_compact, skill_start and skill_end.
 */
export const HOOK_POINTS = [
  "pre_tool",
  "post_tool",
  "pre_model",
  "post_model",
  "turn_start",
  "turn_end",
  "user_prompt_submit",
  "pre_compact",
  "post_compact",
  "skill_start",
  "skill_end",
  "session_start",
  "session_end",
] as const;
export type HookPoint = (typeof HOOK_POINTS)[number];

/** The event name a Claude Code-style shell hook receives as `hook_event_name`. */
export const CLAUDE_EVENT_NAMES: Readonly<Record<HookPoint, string>> = {
  pre_tool: "PreToolUse",
  post_tool: "PostToolUse",
  pre_model: "PreModel",
  post_model: "PostModel",
  turn_start: "TurnStart",
  turn_end: "Stop",
  user_prompt_submit: "UserPromptSubmit",
  pre_compact: "PreCompact",
  post_compact: "PostCompact",
  skill_start: "SkillStart",
  skill_end: "SkillEnd",
  session_start: "SessionStart",
  session_end: "SessionEnd",
};

/** What each point tells its hooks, besides the common fields of `HookEvent`. */
export interface HookPayloads {
  /** Before a tool call runs (before the permission rules). May allow, deny, ask, edit the input, add context. */
  pre_tool: { tool: string; rule: string; callId: string; input: unknown };
  /** After a call ran or was denied. May block (the output gains the reason) or add context. */
  post_tool: {
    tool: string;
    rule: string;
    callId: string;
    input: unknown;
    output: ToolOutput;
    isError: boolean;
    status: "ok" | "error" | "denied";
    /** How the call was permitted or refused, when a permission policy ran. */
    permission?: { decision: string; by: string; rule?: string | undefined; reason?: string | undefined };
  };
  /** Before each model call. Observational. */
  pre_model: { step: number; model: string; items: number };
  /** After each model call. Observational. */
  post_model: { step: number; model: string; finishReason: string; usage: Usage };
  /** A turn began (or resumed after a restart). Observational. */
  turn_start: { resumed: boolean };
  /** A turn ended. Observational. */
  turn_end: { status: "completed" | "failed" | "aborted"; text?: string | undefined };
  /** A user prompt is about to enter the history. May block it or add context. */
  user_prompt_submit: { prompt: string };
  /** Compaction is about to run. May block it. */
  pre_compact: { trigger: string; strategy: string; tokensBefore: number };
  /** Compaction finished. Observational. */
  post_compact: { trigger: string; strategy: string; tokensBefore: number; tokensAfter: number };
  /** A skill is about to run. May block it or add context. */
  skill_start: { name: string; callId?: string | undefined; depth: number };
  /** A skill ended. Observational. */
  skill_end: { name: string; callId?: string | undefined; ok: boolean };
  /** An engine opened its thread. Observational. */
  session_start: { resumed: boolean };
  /** An engine is shutting down. Observational. */
  session_end: { reason: "shutdown" };
}

/**
 * What every hook receives: the point's payload plus where it happened. A union over
 * points, so checking `event.point` narrows the payload.
 */
export type HookEvent<P extends HookPoint = HookPoint> = P extends HookPoint
  ? {
      readonly point: P;
      readonly threadId: string;
      readonly turnId?: string | undefined;
      readonly cwd: string;
      readonly permissionMode?: string | undefined;
    } & HookPayloads[P]
  : never;

/**
 * A hook's answer (all fields optional; an empty answer or `undefined` means "no objection").
 * `decision`: `deny` (or `block`) stops the action with `reason`; `ask` sends a tool call
 * to a human; `allow` lets a tool call skip the question (deny and ask rules still apply).
 * `updatedInput` replaces a tool call's input; `additionalContext` is shown to the model.
 */
export const HookResponse = z.object({
  decision: z.enum(["allow", "deny", "ask", "block"]).optional(),
  reason: z.string().optional(),
  updatedInput: z.unknown().optional(),
  additionalContext: z.string().optional(),
});
export type HookResponse = z.infer<typeof HookResponse>;

/** Fields shared by both kinds of hook. */
interface HookBase {
  readonly point: HookPoint;
  /**
   * Which calls the hook sees, for tool and skill points (tool name or rule name, skill
   * name) and compaction (trigger): `Bash`, `Edit|Write` (a list), `mcp__.*` (a regular
   * expression); empty or `*` for all. Ignored at other points.
   */
  readonly matcher?: string;
  /** Default 60 s. A hook past its time is reported and ignored (a shell hook is killed). */
  readonly timeoutMs?: number;
  /** For messages; defaults to the command or `in-process hook #n`. */
  readonly name?: string;
}

/** A hook written in code. It may be async and should honour `signal`. */
export interface FunctionHook extends HookBase {
  run(
    event: HookEvent,
    ctx: { readonly signal: AbortSignal },
  ): HookResponse | undefined | Promise<HookResponse | undefined>;
}

/**
 * A shell command speaking Claude Code's hook protocol: the event as JSON on stdin; exit 0
 * with optional JSON on stdout, exit 2 to block with stderr as the reason, any other exit a
 * reported, non-blocking failure.
 */
export interface CommandHook extends HookBase {
  readonly command: string;
  /** Working directory of the command. Default: the event's cwd. */
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** Either kind of hook. */
export type HookDefinition = FunctionHook | CommandHook;

/** True for a shell-command hook. */
export function isCommandHook(hook: HookDefinition): hook is CommandHook {
  return "command" in hook;
}

/** The combined answer of every hook that ran at one point. */
export interface HookOutcome {
  /** `deny` when any hook denied or blocked; else `ask` when any asked; else `allow` when any allowed. */
  readonly decision: "allow" | "deny" | "ask" | undefined;
  readonly reason: string | undefined;
  /** The input after every hook's edits, when one edited it. */
  readonly updatedInput: unknown;
  readonly context: readonly string[];
}

/** An outcome with no effect. */
export const NO_OUTCOME: HookOutcome = Object.freeze({
  decision: undefined,
  reason: undefined,
  updatedInput: undefined,
  context: [],
});

/** A hook that failed (threw, timed out, exited badly); reported and otherwise ignored. */
export interface HookFailure {
  readonly point: HookPoint;
  readonly hook: string;
  readonly code: "hook_failed" | "hook_timeout";
  readonly message: string;
}
