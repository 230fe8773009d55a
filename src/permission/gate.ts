import { describeError } from "../errors.ts";
import type { HookRunner } from "../hooks/runner.ts";
import type { HookFailure, HookOutcome } from "../hooks/types.ts";
import type { EventMsg } from "../protocol/index.ts";
import { newId } from "../protocol/index.ts";
import { formatDuration, type GateDecision, type ToolGate } from "../tool/scheduler.ts";
import {
  type ApprovalAnswer,
  type CanUseTool,
  type CanUseToolResult,
  DENIAL,
  type PermissionNote,
  type RequestWaiter,
} from "./approval.ts";
import type { PermissionDecision } from "./evaluate.ts";
import { identityOf } from "./identity.ts";
import type { PermissionMode } from "./modes.ts";
import type { PermissionPolicy } from "./policy.ts";

/** What a permission gate needs from its engine. One per engine. */
export interface GateHost {
  readonly policy: PermissionPolicy | undefined;
  readonly hooks: HookRunner | undefined;
  readonly canUseTool: CanUseTool | undefined;
  readonly requests: RequestWaiter;
  /** 0 = wait for an answer indefinitely. */
  readonly approvalTimeoutMs: number;
  /** False when nobody can answer: a call that would ask is denied at once. */
  readonly interactive: boolean;
  /** The session's mode override, if any (the policy's default mode otherwise). */
  mode(): PermissionMode | undefined;
  cwd(): string;
  /** The request id a call used before a restart, when it was waiting on a person. */
  takeResumedRequest(callId: string): string | undefined;
  /**
   * Makes every line recorded so far durable; rejects when that failed. Undefined when the
   * store is synchronous. A call a recorded decision allowed runs only after it resolved.
   */
  durable(): Promise<void> | undefined;
  /** Notes per call, read by the post_tool wrapper. */
  readonly notes: CallNotes;
}

/** Per-call notes handed from the gate to the post_tool wrapper. */
export class CallNotes {
  // Created on first use: most engines never note anything.
  private context: Map<string, string[]> | undefined;
  private permission: Map<string, PermissionNote> | undefined;

  addContext(callId: string, lines: readonly string[]): void {
    if (lines.length === 0) return;
    this.context ??= new Map();
    this.context.set(callId, [...(this.context.get(callId) ?? []), ...lines]);
  }

  takeContext(callId: string): string[] {
    const lines = this.context?.get(callId) ?? [];
    this.context?.delete(callId);
    return lines;
  }

  setPermission(callId: string, note: PermissionNote): void {
    this.permission ??= new Map();
    this.permission.set(callId, note);
  }

  takePermission(callId: string): PermissionNote | undefined {
    const note = this.permission?.get(callId);
    this.permission?.delete(callId);
    return note;
  }

  /** Drops notes of calls that never ran (called when a turn ends). */
  clear(): void {
    if (this.context?.size) this.context.clear();
    if (this.permission?.size) this.permission.clear();
  }
}

/** The turn a gate works for: where its events and hook failures go. */
export interface TurnScope {
  readonly threadId: string;
  readonly turnId: string;
  emit(msg: EventMsg): void;
  /**
   * Records the event and publishes it only once the transcript is durable; `beforePublish`
   * runs right before publishing. Rejects (nothing published) when the store failed;
   * undefined when the store is synchronous.
   */
  emitDurable(msg: EventMsg, beforePublish?: () => void): Promise<void> | undefined;
  report(failure: HookFailure): void;
}

type Call = Parameters<ToolGate>[0];
type Finish = (note: PermissionNote, message?: string, edited?: unknown) => Promise<GateDecision>;
type Resolve = (
  decision: "allow_once" | "allow_always" | "deny",
  by: "user" | "timeout" | "callback" | "abort",
  reason?: string,
  rules?: string[],
) => void;

/**
 * The engine's permission gate: pre_tool hooks, then the policy (deny, ask, allow rules and
 * the mode), then — for a call that would ask — the host's `canUseTool`, then a person:
 * `permission_requested`, a wait for the `approval` op (or the timeout, which denies), and
 * `permission_resolved`. Denied calls still reach post_tool hooks (status `denied`).
 */
export function permissionGate(host: GateHost, turnScope: TurnScope): ToolGate {
  return async (call) => {
    const { tool, callId, signal } = call;
    const rule = identityOf(tool).rule;
    let input = call.input;
    // A call allowed by a recorded decision (permission_resolved) runs only once that
    // decision is on disk: a restart then knows the call may have run and never runs it again.
    let decided = false;
    const scope: TurnScope = {
      ...turnScope,
      emit: (msg) => {
        if (msg.type === "permission_resolved") decided = true;
        turnScope.emit(msg);
      },
    };
    const hook = host.hooks?.has("pre_tool")
      ? await host.hooks.run(
          { point: "pre_tool", ...callFields(host, scope, call, input) },
          { signal, report: scope.report, matchOn: [tool.name, rule] },
        )
      : undefined;
    if (hook?.updatedInput !== undefined) input = hook.updatedInput;
    host.notes.addContext(callId, hook?.context ?? []);
    const finish: Finish = async (note, message, edited) => {
      const decision = await settle(host, scope, call, input, note, message, edited);
      return decision.allow && decided ? afterDurable(host, decision) : decision;
    };
    const previous = host.takeResumedRequest(callId);
    if (hook?.decision === "deny") {
      if (previous !== undefined) {
        scope.emit({
          type: "permission_resolved",
          requestId: previous,
          decision: "deny",
          by: "hook",
          ...(hook.reason !== undefined ? { reason: hook.reason } : {}),
        });
      }
      return finish(
        { decision: "deny", by: "hook", reason: hook.reason },
        DENIAL.hook(hook.reason ?? "no reason given"),
      );
    }
    const judged = await judge(host, call, input, hook);
    if (judged.decision.decision !== "ask") {
      const allowed = judged.decision.decision === "allow";
      if (previous !== undefined) {
        scope.emit({
          type: "permission_resolved",
          requestId: previous,
          decision: allowed ? "allow_once" : "deny",
          by: "rule",
          reason: judged.decision.reason,
        });
      }
      const note: PermissionNote = {
        decision: allowed ? "allow" : "deny",
        by: judged.by,
        rule: judged.decision.rule,
        reason: judged.decision.reason,
      };
      return finish(note, allowed ? undefined : DENIAL.rule(judged.decision.reason));
    }
    return askFor(host, scope, call, input, judged.decision, previous, finish);
  };
}

interface Judged {
  readonly decision: PermissionDecision;
  readonly by: PermissionNote["by"];
}

/** Combines the hook's answer with the policy: hooks may skip a question, never a rule. */
async function judge(
  host: GateHost,
  call: Call,
  input: unknown,
  hook: HookOutcome | undefined,
): Promise<Judged> {
  const policy = host.policy;
  const mode = modeOf(host);
  let decision: PermissionDecision = policy
    ? await policy.evaluate({ tool: call.tool, input, cwd: host.cwd(), mode: host.mode() })
    : { decision: "allow", source: undefined, reason: "no permission policy", suggestions: [] };
  const by = (d: PermissionDecision): PermissionNote["by"] =>
    d.source === "mode" || d.source === "command_check" ? d.source : d.source === undefined ? "none" : "rule";
  if (hook?.decision === "allow" && decision.decision === "ask" && decision.source === "mode") {
    return {
      decision: { ...decision, decision: "allow", reason: hook.reason ?? "allowed by a hook" },
      by: "hook",
    };
  }
  if (hook?.decision === "ask" && decision.decision === "allow") {
    decision = {
      ...decision,
      decision: "ask",
      reason: hook.reason ?? "a hook asks for a decision",
      suggestions: [],
    };
    if (mode === "dontAsk") {
      return {
        decision: {
          ...decision,
          decision: "deny",
          reason: `${decision.reason}; dontAsk mode denies what would ask`,
        },
        by: "hook",
      };
    }
    return { decision, by: "hook" };
  }
  return { decision, by: by(decision) };
}

async function askFor(
  host: GateHost,
  scope: TurnScope,
  call: Call,
  input: unknown,
  decision: PermissionDecision,
  previous: string | undefined,
  finish: Finish,
): Promise<GateDecision> {
  const { tool, callId, signal } = call;
  const requestId = previous ?? newId("perm");
  const request: EventMsg = {
    type: "permission_requested",
    requestId,
    callId,
    tool: tool.name,
    input,
    suggestions: [...decision.suggestions],
    // Only a rule that asked is named; a command check's category is in the reason.
    ...(decision.rule !== undefined && decision.source !== "command_check" ? { rule: decision.rule } : {}),
    reason: decision.reason,
  };
  const resolved: Resolve = (d, by, reason, rules) =>
    scope.emit({
      type: "permission_resolved",
      requestId,
      decision: d,
      by,
      ...(reason !== undefined ? { reason } : {}),
      ...(rules && rules.length > 0 ? { rules } : {}),
    });

  if (host.canUseTool) {
    const answer = await consult(host.canUseTool, tool.name, input, {
      signal,
      threadId: scope.threadId,
      turnId: scope.turnId,
      callId,
      mode: modeOf(host),
      decision,
    });
    if (answer.behavior !== "ask") {
      scope.emit(request);
      if (answer.behavior === "deny") {
        resolved("deny", "callback", answer.message);
        return finish(
          { decision: "deny", by: "callback", reason: answer.message },
          DENIAL.callback(answer.message),
        );
      }
      const rules = answer.rules && host.policy ? host.policy.addSessionRules(answer.rules) : [];
      resolved(rules.length > 0 ? "allow_always" : "allow_once", "callback", undefined, rules);
      return finish({ decision: "allow", by: "callback" }, undefined, answer.updatedInput);
    }
  }
  if (!host.interactive) {
    if (previous !== undefined) resolved("deny", "timeout", "no one can approve in this session");
    return finish(
      { decision: "deny", by: "none", reason: decision.reason },
      DENIAL.noApprover(decision.reason),
    );
  }
  if (signal.aborted) return finish({ decision: "deny", by: "abort" }, DENIAL.aborted());
  const timeoutMs = host.approvalTimeoutMs;
  type Result = Awaited<ReturnType<typeof host.requests.wait<ApprovalAnswer>>>;
  let waiting: Promise<Result> | undefined;
  // The request is on disk before anyone is asked (a restart asks it again instead of losing
  // it). The wait starts right before it is published: an answer may arrive during delivery.
  const published = scope.emitDurable(request, () => {
    waiting = host.requests.wait<ApprovalAnswer>("approval", requestId, signal, timeoutMs, (r) => {
      if (r.kind === "timeout") resolved("deny", "timeout", `no answer within ${formatDuration(timeoutMs)}`);
      else if (r.kind === "aborted") resolved("deny", "abort", "the turn was interrupted");
    });
  });
  if (published) {
    try {
      await published;
    } catch (err) {
      const why = describeError(err);
      resolved("deny", "abort", `the request could not be recorded: ${why}`);
      return finish({ decision: "deny", by: "abort", reason: why }, DENIAL.unrecorded(why));
    }
  }
  const result = await (waiting as Promise<Result>);
  if (result.kind === "timeout")
    return finish({ decision: "deny", by: "timeout" }, DENIAL.timeout(timeoutMs));
  if (result.kind === "aborted") return finish({ decision: "deny", by: "abort" }, DENIAL.aborted());
  return answered(host, call, decision, result.value, resolved, finish);
}

async function answered(
  host: GateHost,
  call: Call,
  decision: PermissionDecision,
  answer: ApprovalAnswer,
  resolved: Resolve,
  finish: Finish,
): Promise<GateDecision> {
  if (answer.decision === "deny") {
    resolved("deny", "user", answer.reason);
    return finish({ decision: "deny", by: "user", reason: answer.reason }, DENIAL.user(answer.reason));
  }
  const edited = answer.editedInput;
  if (edited !== undefined && host.policy) {
    // A person may change the input, but never into something a deny rule forbids.
    const recheck = await host.policy.evaluate({
      tool: call.tool,
      input: edited,
      cwd: host.cwd(),
      mode: host.mode(),
    });
    if (recheck.decision === "deny") {
      resolved("deny", "user", `the edited input is denied: ${recheck.reason}`);
      return finish(
        { decision: "deny", by: "rule", rule: recheck.rule, reason: recheck.reason },
        DENIAL.rule(recheck.reason),
      );
    }
  }
  const rules =
    answer.decision === "allow_always" && host.policy
      ? host.policy.addSessionRules(decision.suggestions)
      : [];
  resolved(answer.decision, "user", answer.reason, rules);
  return finish({ decision: "allow", by: "user", rule: decision.rule }, undefined, edited);
}

/** Waits until the decision that allowed a call is durable; refuses the call when it cannot be. */
async function afterDurable(host: GateHost, decision: GateDecision): Promise<GateDecision> {
  try {
    await host.durable();
    return decision;
  } catch (err) {
    return { allow: false, message: DENIAL.unrecordedDecision(describeError(err)) };
  }
}

async function consult(
  canUseTool: CanUseTool,
  tool: string,
  input: unknown,
  ctx: Parameters<CanUseTool>[2],
): Promise<CanUseToolResult> {
  try {
    return (await canUseTool(tool, input, ctx)) ?? { behavior: "ask" };
  } catch (err) {
    return { behavior: "deny", message: `The permission callback failed: ${(err as Error).message}` };
  }
}

/** Records the outcome, runs post_tool hooks for refusals, and builds the scheduler's answer. */
async function settle(
  host: GateHost,
  scope: TurnScope,
  call: Call,
  input: unknown,
  note: PermissionNote,
  message?: string,
  edited?: unknown,
): Promise<GateDecision> {
  const { tool, callId, signal } = call;
  if (note.decision === "allow") {
    if (host.hooks?.has("post_tool")) host.notes.setPermission(callId, note);
    const next = edited !== undefined ? edited : input !== call.input ? input : undefined;
    return next === undefined ? { allow: true } : { allow: true, input: next };
  }
  const text = message ?? DENIAL.rule(note.reason ?? "denied");
  if (host.hooks?.has("post_tool") && !signal.aborted) {
    const rule = identityOf(tool).rule;
    await host.hooks.run(
      {
        point: "post_tool",
        ...callFields(host, scope, call, input),
        output: text,
        isError: true,
        status: "denied",
        permission: { decision: note.decision, by: note.by, rule: note.rule, reason: note.reason },
      },
      { signal, report: scope.report, matchOn: [tool.name, rule] },
    );
  }
  host.notes.takeContext(callId);
  return { allow: false, message: text };
}

/** The fields pre_tool and post_tool events share. */
function callFields(host: GateHost, scope: TurnScope, call: Call, input: unknown) {
  return {
    threadId: scope.threadId,
    turnId: scope.turnId,
    cwd: host.cwd(),
    permissionMode: modeOf(host),
    tool: call.tool.name,
    rule: identityOf(call.tool).rule,
    callId: call.callId,
    input,
  };
}

function modeOf(host: GateHost): PermissionMode | undefined {
  return host.mode() ?? host.policy?.defaultMode;
}
