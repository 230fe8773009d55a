/**
 * The OpenTelemetry names Taifeng emits, in one table. The GenAI conventions are still
 * changing (e.g. `gen_ai.usage.cache_creation.input_tokens` is being renamed to
 * `cache_write`): every name is spelled here and only here, so following a rename is a
 * one-line change. Names under `taifeng.` are Taifeng's own and documented in
 * docs/guides/observability.md.
 */

/**
 * The revision the `gen_ai.*` names follow: the GenAI registry as published in
 * `@opentelemetry/semantic-conventions` 1.45.0 (incubating entry point), i.e. semantic
 * conventions v1.45.0.
 */
export const SEMCONV_REVISION = "1.45.0";

/** Instrumentation scope name of Taifeng's tracer and meter. */
export const SCOPE_NAME = "taifeng";

/** Span, metric and attribute names. */
export const ATTR = {
  // GenAI conventions (SEMCONV_REVISION)
  operationName: "gen_ai.operation.name",
  providerName: "gen_ai.provider.name",
  agentName: "gen_ai.agent.name",
  agentId: "gen_ai.agent.id",
  conversationId: "gen_ai.conversation.id",
  requestModel: "gen_ai.request.model",
  requestMaxTokens: "gen_ai.request.max_tokens",
  requestTemperature: "gen_ai.request.temperature",
  requestStream: "gen_ai.request.stream",
  responseModel: "gen_ai.response.model",
  responseId: "gen_ai.response.id",
  responseFinishReasons: "gen_ai.response.finish_reasons",
  outputType: "gen_ai.output.type",
  usageInputTokens: "gen_ai.usage.input_tokens",
  usageOutputTokens: "gen_ai.usage.output_tokens",
  usageCacheReadTokens: "gen_ai.usage.cache_read.input_tokens",
  usageCacheWriteTokens: "gen_ai.usage.cache_creation.input_tokens",
  usageReasoningTokens: "gen_ai.usage.reasoning.output_tokens",
  tokenType: "gen_ai.token.type",
  toolName: "gen_ai.tool.name",
  toolCallId: "gen_ai.tool.call.id",
  toolType: "gen_ai.tool.type",
  toolCallArguments: "gen_ai.tool.call.arguments",
  toolCallResult: "gen_ai.tool.call.result",
  inputMessages: "gen_ai.input.messages",
  outputMessages: "gen_ai.output.messages",
  systemInstructions: "gen_ai.system_instructions",
  errorType: "error.type",
  // Taifeng's own
  turnId: "taifeng.turn.id",
  turnOutcome: "taifeng.turn.outcome",
  turnSteps: "taifeng.turn.steps",
  costUsd: "taifeng.cost.usd",
  step: "taifeng.step",
  toolStatus: "taifeng.tool.status",
  retryAttempt: "taifeng.retry.attempt",
  retryDelayMs: "taifeng.retry.delay_ms",
  compactionStrategy: "taifeng.compaction.strategy",
  compactionTrigger: "taifeng.compaction.trigger",
  compactionTokensBefore: "taifeng.compaction.tokens_before",
  compactionTokensAfter: "taifeng.compaction.tokens_after",
  compactionCachedInvalidated: "taifeng.compaction.cached_tokens_invalidated",
  permissionTool: "taifeng.permission.tool",
  permissionDecision: "taifeng.permission.decision",
  permissionBy: "taifeng.permission.by",
  hookPoint: "taifeng.hook.point",
  hookName: "taifeng.hook.name",
  hookOutcome: "taifeng.hook.outcome",
  skillName: "taifeng.skill.name",
  skillDepth: "taifeng.skill.depth",
  skillOk: "taifeng.skill.ok",
  warningCode: "taifeng.warning.code",
} as const;

/** `gen_ai.operation.name` values and Taifeng's own operations (the span name's first word). */
export const OPERATION = {
  invokeAgent: "invoke_agent",
  chat: "chat",
  executeTool: "execute_tool",
  compaction: "taifeng.compaction",
  permissionWait: "taifeng.permission_wait",
  hook: "taifeng.hook",
  skill: "taifeng.skill",
} as const;

/** Span event names (retries and fallbacks are events on the `chat` span). */
export const SPAN_EVENT = {
  retry: "taifeng.model.retry",
  fallback: "taifeng.model.fallback",
  warning: "taifeng.warning",
  budgetWarning: "taifeng.budget_warning",
} as const;

/** Metric names: the conventions' histograms and Taifeng's counters. */
export const METRIC = {
  tokenUsage: "gen_ai.client.token.usage",
  operationDuration: "gen_ai.client.operation.duration",
  turns: "taifeng.turns",
  toolCalls: "taifeng.tool.calls",
  compactions: "taifeng.compactions",
  cachedTokenShare: "taifeng.usage.cached_share",
  costUsd: "taifeng.cost.usd",
} as const;

/** The conventions' explicit bucket boundaries for the two client histograms. */
export const BUCKETS = {
  tokenUsage: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
  operationDuration: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
} as const;

/**
 * `gen_ai.provider.name` for a Taifeng provider prefix (`openai:gpt-5` -> `openai`). Unknown
 * prefixes pass through unchanged.
 */
export const PROVIDER_NAMES: Readonly<Record<string, string>> = {
  openai: "openai",
  "openai-chat": "openai",
  anthropic: "anthropic",
  google: "gcp.gemini",
  gemini: "gcp.gemini",
  deepseek: "deepseek",
  sim: "taifeng.sim",
};

/** The environment variable and value that opt in to the latest experimental GenAI conventions. */
export const STABILITY_OPT_IN = {
  variable: "OTEL_SEMCONV_STABILITY_OPT_IN",
  value: "gen_ai_latest_experimental",
};
