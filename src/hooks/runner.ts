import { describeError, TaifengError } from "../errors.ts";
import { subprocessEnv } from "../sandbox/env.ts";
import { compileMatcher, type NameMatcher } from "./matcher.ts";
import { runCommandHook } from "./shell.ts";
import {
  HOOK_POINTS,
  type HookDefinition,
  type HookEvent,
  type HookFailure,
  type HookOutcome,
  type HookPoint,
  HookResponse,
  isCommandHook,
  NO_OUTCOME,
} from "./types.ts";

/** Options for a HookRunner. */
export interface HookRunnerOptions {
  /** Timeout for hooks that set none, in ms. Default 60000. */
  readonly defaultTimeoutMs?: number;
  /**
   * Environment of shell hooks, used as given. Default: the subprocess allowlist
   * (`subprocessEnv`: PATH, HOME, LANG, LC_*, TERM, TMPDIR, USER, SHELL and the declared
   * passthrough names), never the whole parent environment.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Extra parent variables to pass through with the default environment. */
  readonly envPassthrough?: readonly string[];
  /** Exposed to shell hooks as TAIFENG_PROJECT_DIR (and CLAUDE_PROJECT_DIR). */
  readonly projectDir?: string;
}

/** Per-run context: cancellation and where failures go. */
export interface HookRunContext {
  readonly signal: AbortSignal;
  /** Receives every hook failure (the engine turns them into `error` events). */
  readonly report: (failure: HookFailure) => void;
  /** Names the matchers test (tool and rule name, skill name, compaction trigger). */
  readonly matchOn?: readonly string[];
}

interface Registered {
  readonly hook: HookDefinition;
  readonly name: string;
  readonly matches: NameMatcher;
}

/** Points whose hooks are filtered by their matcher. */
const MATCHED_POINTS = new Set<HookPoint>([
  "pre_tool",
  "post_tool",
  "skill_start",
  "skill_end",
  "pre_compact",
  "post_compact",
]);

/**
 * Runs the hooks registered for a point, one after another in registration order (so each
 * sees the input the previous one produced). A deny or block stops the chain. A hook that
 * throws, times out or exits badly is reported through `report` and otherwise ignored: hooks
 * never crash the engine. Immutable after construction.
 */
export class HookRunner {
  private readonly byPoint = new Map<HookPoint, Registered[]>();
  private readonly defaultTimeoutMs: number;
  private readonly env: Record<string, string | undefined>;

  /** Throws TaifengError `invalid_config` for an unknown point or a bad matcher. */
  constructor(hooks: readonly HookDefinition[], options: HookRunnerOptions = {}) {
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 60_000;
    this.env = {
      ...(options.env ??
        subprocessEnv(options.envPassthrough ? { passthrough: options.envPassthrough } : {})),
    };
    if (options.projectDir !== undefined) {
      this.env.TAIFENG_PROJECT_DIR = options.projectDir;
      this.env.CLAUDE_PROJECT_DIR = options.projectDir;
    }
    hooks.forEach((hook, i) => {
      if (!HOOK_POINTS.includes(hook.point)) {
        throw new TaifengError(
          "invalid_config",
          `hook #${i + 1} has unknown point "${String(hook.point)}"; expected one of ${HOOK_POINTS.join(", ")}`,
        );
      }
      const name = hook.name ?? (isCommandHook(hook) ? hook.command : `in-process hook #${i + 1}`);
      const list = this.byPoint.get(hook.point) ?? [];
      list.push({ hook, name, matches: compileMatcher(hook.matcher) });
      this.byPoint.set(hook.point, list);
    });
  }

  /** True when at least one hook is registered for `point`. */
  has(point: HookPoint): boolean {
    return (this.byPoint.get(point)?.length ?? 0) > 0;
  }

  /** Runs the point's hooks and combines their answers. Never throws. */
  async run<P extends HookPoint>(event: HookEvent<P>, ctx: HookRunContext): Promise<HookOutcome> {
    const registered = this.byPoint.get(event.point);
    if (!registered || registered.length === 0) return NO_OUTCOME;
    const filter = MATCHED_POINTS.has(event.point) ? (ctx.matchOn ?? []) : undefined;
    let current = event as HookEvent;
    let decision: HookOutcome["decision"];
    let reason: string | undefined;
    let updatedInput: unknown;
    const context: string[] = [];
    for (const entry of registered) {
      if (ctx.signal.aborted) break;
      if (filter && !entry.matches(filter)) continue;
      const response = await this.runOne(entry, current, ctx);
      if (!response) continue;
      if (response.additionalContext) context.push(response.additionalContext);
      if (response.updatedInput !== undefined && "input" in current) {
        updatedInput = response.updatedInput;
        current = { ...current, input: response.updatedInput } as HookEvent;
      }
      const d = response.decision === "block" ? "deny" : response.decision;
      if (d === "deny")
        return {
          decision: "deny",
          reason: response.reason ?? `blocked by hook ${entry.name}`,
          updatedInput,
          context,
        };
      if (d === "ask" || (d === "allow" && decision !== "ask")) {
        decision = d;
        reason = response.reason ?? reason;
      }
    }
    return { decision, reason, updatedInput, context };
  }

  private async runOne(
    entry: Registered,
    event: HookEvent,
    ctx: HookRunContext,
  ): Promise<HookResponse | undefined> {
    const timeoutMs = entry.hook.timeoutMs ?? this.defaultTimeoutMs;
    const fail = (code: HookFailure["code"], message: string) => {
      ctx.report({ point: event.point, hook: entry.name, code, message });
      return undefined;
    };
    if (isCommandHook(entry.hook)) {
      const result = await runCommandHook(entry.hook, event, {
        timeoutMs,
        signal: ctx.signal,
        env: this.env,
      });
      if (result.kind === "failed") return fail(result.code, `hook ${entry.name} ${result.message}`);
      return result.kind === "response" ? result.response : undefined;
    }
    const hook = entry.hook;
    const controller = new AbortController();
    const signal = AbortSignal.any([ctx.signal, controller.signal]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      const value = await Promise.race([Promise.resolve().then(() => hook.run(event, { signal })), timeout]);
      if (value === "timeout") {
        controller.abort();
        return fail("hook_timeout", `hook ${entry.name} timed out after ${timeoutMs} ms`);
      }
      if (value === undefined || value === null) return undefined;
      const parsed = HookResponse.safeParse(value);
      if (!parsed.success)
        return fail(
          "hook_failed",
          `hook ${entry.name} returned an invalid answer: ${parsed.error.issues[0]?.message}`,
        );
      return parsed.data;
    } catch (err) {
      if (ctx.signal.aborted) return undefined;
      return fail("hook_failed", `hook ${entry.name} threw: ${describeError(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
