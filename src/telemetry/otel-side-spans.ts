/** The Taifeng spans beside the GenAI ones: compaction, permission waits, skill runs, notices. */
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { HookRunReport } from "../hooks/runner.ts";
import type { EventMsgOf } from "../protocol/index.ts";
import type { SpanRecorder } from "./otel-spans.ts";
import { ATTR, OPERATION, SPAN_EVENT } from "./semconv.ts";

/** See SpanRecorder.handle. */
export function startCompaction(
  r: SpanRecorder,
  threadId: string,
  msg: EventMsgOf<"compaction_started">,
): void {
  const state = r.state(threadId);
  if (state.quiet) return;
  state.compaction?.end();
  state.compaction = r.tracer.startSpan(
    `${OPERATION.compaction} ${msg.strategy}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        [ATTR.operationName]: OPERATION.compaction,
        [ATTR.compactionStrategy]: msg.strategy,
        [ATTR.compactionTrigger]: msg.trigger,
        [ATTR.compactionTokensBefore]: msg.tokensBefore,
        [ATTR.conversationId]: threadId,
      },
    },
    r.parent(state, threadId),
  );
}

/** See SpanRecorder.handle. */
export function endCompaction(
  r: SpanRecorder,
  threadId: string,
  msg: EventMsgOf<"compaction_completed">,
): void {
  r.metrics?.compaction(msg.strategy, msg.trigger);
  const state = r.threads.get(threadId);
  const span = state?.compaction;
  if (!state || !span) return;
  state.compaction = undefined;
  span.setAttributes({
    [ATTR.compactionTokensAfter]: msg.tokensAfter,
    [ATTR.compactionCachedInvalidated]: msg.cachedTokensInvalidated,
  });
  if (msg.usage) {
    span.setAttribute(ATTR.usageInputTokens, msg.usage.inputTokens);
    span.setAttribute(ATTR.usageOutputTokens, msg.usage.outputTokens);
  }
  span.end();
}

/** See SpanRecorder.handle. */
export function startPermission(
  r: SpanRecorder,
  threadId: string,
  msg: EventMsgOf<"permission_requested">,
): void {
  const state = r.state(threadId);
  if (state.quiet) return;
  const tool = state.tools?.get(msg.callId)?.span;
  const span = r.tracer.startSpan(
    `${OPERATION.permissionWait} ${msg.tool}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        [ATTR.operationName]: OPERATION.permissionWait,
        [ATTR.permissionTool]: msg.tool,
        [ATTR.toolCallId]: msg.callId,
        [ATTR.conversationId]: threadId,
      },
    },
    tool ? trace.setSpan(ROOT_CONTEXT, tool) : r.parent(state, threadId),
  );
  state.permissions ??= new Map();
  state.permissions.set(msg.requestId, span);
}

/** See SpanRecorder.handle. */
export function endPermission(
  r: SpanRecorder,
  threadId: string,
  msg: EventMsgOf<"permission_resolved">,
): void {
  const perms = r.threads.get(threadId)?.permissions;
  const span = perms?.get(msg.requestId);
  if (!perms || !span) return;
  perms.delete(msg.requestId);
  span.setAttributes({ [ATTR.permissionDecision]: msg.decision, [ATTR.permissionBy]: msg.by });
  span.end();
}

/** See SpanRecorder.handle. */
export function startSkill(r: SpanRecorder, threadId: string, msg: EventMsgOf<"skill_started">): void {
  const state = r.state(threadId);
  if (state.quiet) return;
  const key = msg.callId ?? "";
  state.skills ??= new Map();
  const stack = state.skills.get(key) ?? [];
  const above = stack.at(-1) ?? (msg.callId !== undefined ? state.tools?.get(msg.callId)?.span : undefined);
  const span = r.tracer.startSpan(
    `${OPERATION.invokeAgent} ${msg.name}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        [ATTR.operationName]: OPERATION.invokeAgent,
        [ATTR.agentName]: msg.name,
        [ATTR.skillName]: msg.name,
        [ATTR.skillDepth]: msg.depth,
        [ATTR.conversationId]: threadId,
      },
    },
    above ? trace.setSpan(ROOT_CONTEXT, above) : r.parent(state, threadId),
  );
  stack.push(span);
  state.skills.set(key, stack);
}

/** See SpanRecorder.handle. */
export function endSkill(r: SpanRecorder, threadId: string, msg: EventMsgOf<"skill_completed">): void {
  const skills = r.threads.get(threadId)?.skills;
  const stack = skills?.get(msg.callId ?? "");
  const span = stack?.pop();
  if (!skills || !stack || !span) return;
  if (stack.length === 0) skills.delete(msg.callId ?? "");
  span.setAttribute(ATTR.skillOk, msg.ok);
  if (msg.usage) {
    span.setAttribute(ATTR.usageInputTokens, msg.usage.inputTokens);
    span.setAttribute(ATTR.usageOutputTokens, msg.usage.outputTokens);
  }
  if (!msg.ok) {
    span.setAttribute(ATTR.errorType, msg.error === "aborted" ? "aborted" : "skill_failed");
    span.setStatus({ code: SpanStatusCode.ERROR, message: r.redactor.redact(msg.error ?? "") });
  }
  span.end();
}

/** See SpanRecorder.handle. */
export function notice(
  r: SpanRecorder,
  threadId: string,
  msg: EventMsgOf<"warning" | "budget_warning">,
): void {
  const span = r.threads.get(threadId)?.turn;
  if (!span?.isRecording()) return;
  if (msg.type === "warning")
    span.addEvent(SPAN_EVENT.warning, {
      [ATTR.warningCode]: msg.code,
      "exception.message": r.redactor.redact(msg.message),
    });
  else
    span.addEvent(SPAN_EVENT.budgetWarning, {
      scope: msg.scope,
      unit: msg.unit,
      threshold: msg.threshold,
      used: msg.used,
      limit: msg.limit,
    });
}

/** One `taifeng.hook` span per hook that ran. */
export function hookSpan(r: SpanRecorder, report: HookRunReport): void {
  const state = r.threads.get(report.threadId);
  if (state?.quiet) return;
  const span = r.tracer.startSpan(
    `${OPERATION.hook} ${report.point}`,
    {
      kind: SpanKind.INTERNAL,
      startTime: report.startedAt,
      attributes: {
        [ATTR.operationName]: OPERATION.hook,
        [ATTR.hookPoint]: report.point,
        [ATTR.hookName]: r.redactor.redact(report.hook),
        [ATTR.hookOutcome]: report.outcome,
        [ATTR.conversationId]: report.threadId,
      },
    },
    (state && r.parent(state, report.threadId)) ?? context.active(),
  );
  if (report.outcome === "failed") {
    span.setAttribute(ATTR.errorType, "hook_failed");
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end(report.startedAt + report.durationMs);
}
