/**
 * Taifeng's public API. Everything a host may use is re-exported here; anything not
 * exported here is internal and may change without notice.
 */

// First: on a Node too old for the package, say so before anything else is evaluated.
import "./node-check.ts";

export {
  cachePricedCompiler,
  claudeCompiler,
  compilerOf,
  glmCompiler,
  type PromptCompiler,
  type PromptFamily,
  type ReasoningCompilerOptions,
  reasoningCompiler,
} from "./compile/compilers.ts";
export { compileByModel, withPromptCompiler } from "./compile/wrap.ts";
// The configuration file (taifeng.config.{json,yaml}): one loader for the CLI, the server and hosts.
export { type LoadConfigOptions, type LoadedConfig, loadConfig, parseConfigText } from "./config/load.ts";
export { TaifengConfig } from "./config/schema.ts";
export { type ConfigEntry, configEntries, formatConfig } from "./config/show.ts";
export { type CacheProfile, cacheProfile, cacheProfileFor } from "./context/cache-model.ts";
export type { ContextOptions, PinnedSource } from "./context/manager.ts";
export { defaultPinned, skillsPinned, todoPinned } from "./context/pinned.ts";
export { HANDOFF_TEMPLATE, type HandoffOptions, handoffSummary } from "./context/strategies/handoff.ts";
export { type MicrocompactOptions, microcompact } from "./context/strategies/microcompact.ts";
export { slidingWindow } from "./context/strategies/sliding-window.ts";
export type {
  CompactionContext,
  CompactionResult,
  CompactionStrategy,
  TrimShape,
} from "./context/strategies/types.ts";
export { type ParsedTranscript, parseTranscript } from "./conversation/jsonl-reader.ts";
export { type JsonlStoreOptions, JsonlThreadStore } from "./conversation/jsonl-store.ts";
export type { CommitInfo } from "./conversation/jsonl-writer.ts";
export { MemorySessionBindings } from "./conversation/memory-sessions.ts";
export { MemoryThreadStore } from "./conversation/memory-store.ts";
export { EVENT_PERSISTENCE, persistedEvent, shouldPersist } from "./conversation/persist-policy.ts";
export {
  danglingCalls,
  type OpenTurn,
  type ReplayedThread,
  type ReplayedTurn,
  replayRollout,
  type TurnContext,
  type TurnOutcome,
} from "./conversation/replay.ts";
export type {
  Durability,
  OpenedThread,
  SessionBindings,
  ThreadArtifacts,
  ThreadInfo,
  ThreadMeta,
  ThreadQuery,
  ThreadStatus,
  ThreadStore,
  ThreadWriter,
} from "./conversation/store.ts";
export type { IndexReport } from "./conversation/store-index.ts";
export { summarizeThread } from "./conversation/summary.ts";
export {
  type ForkOptions,
  type ForkResult,
  forkThread,
  rewindThread,
} from "./conversation/thread-ops.ts";
export { describeError, isTaifengError, TaifengError, type TaifengErrorCode } from "./errors.ts";
export { type AuditHookOptions, type AuditRecord, auditHook } from "./hooks/audit.ts";
export { dangerousCommandHook } from "./hooks/dangerous-command.ts";
export type { HookOptions } from "./hooks/options.ts";
export {
  type HookObserver,
  type HookRunContext,
  HookRunner,
  type HookRunnerOptions,
  type HookRunReport,
} from "./hooks/runner.ts";
export { HooksSettings, hooksFromSettings } from "./hooks/settings.ts";
export {
  CLAUDE_EVENT_NAMES,
  type CommandHook,
  type FunctionHook,
  HOOK_POINTS,
  type HookDefinition,
  type HookEvent,
  type HookFailure,
  type HookOutcome,
  type HookPayloads,
  type HookPoint,
  HookResponse,
} from "./hooks/types.ts";
export {
  type LongTaskEvent,
  type LongTaskOptions,
  RUBRIC,
  runLongTask,
  type Strategy as LongTaskStrategy,
} from "./horizon/long-task.ts";
export { Evaluation, readRecord, SubGoal, TaskRecord } from "./horizon/record.ts";
export {
  type AiSdkToolLike,
  type ForeignToolOptions,
  fromAiSdkTools,
  fromLangChainTool,
  isAiSdkTool,
  isLangChainTool,
  isTool,
  type LangChainToolLike,
  toTools,
} from "./interop/foreign.ts";
export { type AssembledResponse, ResponseAssembler } from "./llm/assemble.ts";
export {
  BUILTIN_MODELS,
  CATALOG_PRICES_AS_OF,
  costOf,
  ModelCatalog,
  ModelInfo,
  ModelPrices,
} from "./llm/catalog.ts";
export {
  classifyError,
  classifyFacts,
  type ErrorFacts,
  errorFacts,
  retryAfterFromHeaders,
} from "./llm/classify.ts";
export { modelError, RETRYABLE_MODEL_ERRORS } from "./llm/errors.ts";
export { type FallbackOptions, withFallback } from "./llm/fallback.ts";
export {
  type ChatDialect,
  COMPATIBLE_DIALECT,
  type CreateAnthropicOptions,
  type CreateGeminiOptions,
  type CreateOpenAIChatOptions,
  type CreateOpenAIResponsesOptions,
  createAnthropic,
  createDeepSeek,
  createGemini,
  createOpenAIChat,
  createOpenAIResponses,
  DEEPSEEK_DIALECT,
  DEFAULT_TIMEOUTS,
  defaultModelFromEnv,
  OPENAI_DIALECT,
  type ProviderFactoryOptions,
  type ProviderTimeouts,
} from "./llm/providers/index.ts";
export {
  createModel,
  ModelRegistry,
  type ProviderFactory,
  parseModelSpec,
  type ResolveOptions,
} from "./llm/resolve.ts";
export { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelay, withRetry } from "./llm/retry.ts";
export * from "./llm/sim/index.ts";
export type {
  CacheStyle,
  FinishReason,
  ModelClient,
  ModelErrorCode,
  ModelEvent,
  ModelNotice,
  ModelRequest,
  ResponseFormat,
  StreamOptions,
  ToolSpec,
} from "./llm/types.ts";
export {
  type CompiledOutput,
  compileOutput,
  type OutputSpec,
  TASK_FINISH,
  taskFinishTool,
} from "./loop/completion.ts";
export { AgentEngine, type EngineOptions, type EngineStatus } from "./loop/engine.ts";
export type { EventListener, ListenerContext, ListenerEventMsg } from "./loop/event-hub.ts";
export { EnginePool, type EntrySkillResolver, type PoolOptions, type SessionOptions } from "./loop/pool.ts";
export type { PrepareTurn, PrepareTurnContext, TurnPrefix } from "./loop/prefix.ts";
export {
  type RequestHandler,
  type RunOptions,
  type RunResult,
  type RunStream,
  type RunStreamOptions,
  run,
  stream,
  type TurnReply,
  type TurnRequest,
} from "./loop/run.ts";
export type { StepCheck, StepCheckContext, StepVerdict } from "./loop/step-check.ts";
export type { TurnInput } from "./loop/turn.ts";
export {
  discoverMemory,
  loadProjectMemory,
  type MemoryScope,
  type MemorySnapshot,
  type MemorySource,
  type ProjectMemoryOptions,
  projectRootOf,
} from "./memory/load.ts";
export { type ProjectMemory, type ProjectMemorySettings, projectMemory } from "./memory/prepare.ts";
export {
  type Operation as OpenApiOperation,
  type ParsedSpec as OpenApiSpec,
  parseSpec as parseOpenApiSpec,
} from "./openapi/spec.ts";
export {
  type OpenApiAuth,
  type OpenApiTool,
  type OpenApiToolInfo,
  type OpenApiToolsOptions,
  openApiTools,
} from "./openapi/tools.ts";
export type {
  ApprovalAnswer,
  CanUseTool,
  CanUseToolContext,
  CanUseToolResult,
} from "./permission/approval.ts";
export { assessCommand, assessCommandSync, describeAssessment } from "./permission/defense/assess.ts";
export { type DefenseCheckResult, defenseCommandCheck } from "./permission/defense/check.ts";
export {
  CommandAssessment,
  DefenseCategory,
  DefenseFinding,
  DefenseSeverity,
  DefenseVerdict,
  DefenseWarning,
} from "./permission/defense/types.ts";
export type {
  CommandCheck,
  CommandCheckContext,
  CommandVerdict,
  DecisionSource,
  PermissionDecision,
} from "./permission/evaluate.ts";
export { BUILTIN_IDENTITIES, identityOf, RULE_IDENTITIES, type ToolFacts } from "./permission/identity.ts";
export {
  isPermissionMode,
  PERMISSION_MODES,
  PermissionMode,
  PermissionVerdict,
} from "./permission/modes.ts";
export type { PermissionOptions } from "./permission/options.ts";
export { PermissionPolicy, type PermissionQuery, type PolicyOptions } from "./permission/policy.ts";
export {
  type PermissionRule,
  parseRule,
  RULE_SOURCES,
  type RuleList,
  type RuleLists,
  type RuleSource,
} from "./permission/rules.ts";
export {
  applyProjectTrust,
  DEFAULT_MANAGED_SETTINGS,
  type DiscoveredSettings,
  type DiscoverOptions,
  discoverSettings,
  findProjectRoot,
  homeOf,
  IGNORED_CLAUDE_CODE_KEYS,
  isProjectLayer,
  PERMISSION_KEYS,
  PermissionSettings,
  REJECTED_CLAUDE_CODE_KEYS,
  readSettingsFile,
  restrictingPart,
  SETTINGS_KEYS,
  SettingsFile,
  type SettingsLayer,
  type SettingsTrust,
  untrustedNotice,
  wideningOf,
} from "./permission/settings.ts";
export {
  analyzeShell,
  type CommandOrigin,
  type Field as ShellField,
  loadShellParser,
  type Opaque as ShellOpaque,
  type ShellAnalysis,
  type ShellCommand,
  type ShellContext,
  type ShellRedirect,
} from "./permission/shell/index.ts";
export {
  fingerprintProject,
  forgetTrust,
  inspectTrust,
  listTrust,
  type ProjectTrustOption,
  rememberTrust,
  resolveTrust,
  TRUST_FILES,
  type TrustInspection,
  trustFilePath,
} from "./permission/trust.ts";
export { type CheckResult, type CodeCheck, parseCheck, runCheck } from "./pipeline/check.ts";
export {
  type ExtractedFile,
  extractFiles,
  type RejectedFile,
  type WriteExtractedOptions,
  writeExtracted,
} from "./pipeline/extract.ts";
export * from "./protocol/index.ts";
export {
  type AdaptiveOptions,
  type Admission,
  adaptiveLimiter,
  parseReset,
  type RateFeedback,
  type RateLimiter,
  type SlidingWindowOptions,
  slidingWindow as slidingWindowLimiter,
  type TokenBucketOptions,
  tokenBucket,
  type WaitReason,
} from "./ratelimit/limiters.ts";
export {
  type RedisTokenBucketOptions,
  redisTokenBucket,
  type SharedRateLimiter,
} from "./ratelimit/redis.ts";
export { type AnyRateLimiter, type RateLimitOptions, RateLimits, withRateLimit } from "./ratelimit/wrap.ts";
export { CONTINUE_PROMPT, type RecoveryOptions, withRecovery } from "./recovery/recover.ts";
export { type RepairPolicyOptions, type RepairStats, withRepairPolicy } from "./recovery/repair.ts";
export {
  isSecretName,
  looksLikeCredential,
  MIN_SECRET_LENGTH,
  type SecretValue,
  secretsFromEnv,
} from "./redact/env.ts";
export { SECRET_PATTERNS, type SecretPattern } from "./redact/patterns.ts";
export {
  type BuiltRedactor,
  createRedactor,
  defaultRedactor,
  introducedMasks,
  mask,
  maskRefusal,
  NO_REDACTION,
  type RedactorOptions,
} from "./redact/redactor.ts";
export type { Redactor } from "./redact/types.ts";
export { redactEventMsg, redactItem } from "./redact/walk.ts";
export {
  type BreakerNotice,
  type BreakerOptions,
  type BreakerState,
  CircuitBreaker,
  createCircuitBreaker,
} from "./reliability/breaker.ts";
export { type BudgetLimits, type BudgetOptions, createBudget, SpendBudget } from "./reliability/budget.ts";
export {
  createProgressDetector,
  type ProgressAction,
  ProgressDetector,
  type ProgressOptions,
} from "./reliability/progress.ts";
export {
  type SpendTotals,
  SpendTracker,
  type SpendTrackerOptions,
  totalTokens,
} from "./reliability/spend.ts";
export { type BudgetLeftLimits, budgetLeftFrom } from "./router/budget.ts";
export {
  type Candidate as RouteCandidate,
  decideRoute,
  type Modality,
  type RouteDecision,
  type RouteInput,
} from "./router/decide.ts";
export { createRouter, ModelRouter, needsOf, type RoutedModel, type RouterOptions } from "./router/router.ts";
export {
  BASE_ENV_NAMES,
  PASSTHROUGH_VARIABLE,
  type SubprocessEnvOptions,
  subprocessEnv,
} from "./sandbox/env.ts";
export { Sandbox, type SandboxCheck, type SandboxOptions } from "./sandbox/sandbox.ts";
export {
  isRunFailure,
  ResourceLimits,
  type RunFailure,
  type RunRequest,
  type RunResult as CommandRunResult,
  type SandboxInfo,
  SandboxLevel,
  SandboxNetwork,
  SandboxPolicy,
} from "./sandbox/types.ts";
export * from "./skill/index.ts";
export { type ConsoleSinkOptions, consoleSink, formatEvent } from "./telemetry/console-sink.ts";
export { type JsonlSinkOptions, jsonlSink } from "./telemetry/jsonl-sink.ts";
export { createOtel, OtelInstrumentation, type OtelOptions } from "./telemetry/otel.ts";
export {
  type Attempt,
  type AttemptCheck,
  type AttemptView,
  attemptsOf,
  type PreferencePair,
  preferencePair,
} from "./telemetry/preference.ts";
export { ATTR, METRIC, OPERATION, SEMCONV_REVISION, SPAN_EVENT } from "./telemetry/semconv.ts";
export {
  createSinks,
  type EventSink,
  SinkHub,
  type SinkHubOptions,
  type SinkStats,
} from "./telemetry/sinks.ts";
export {
  exportThreadTrace,
  exportTrace,
  type ModelCallRecord,
  type ThreadRecord,
  type ToolResultRecord,
  TRACE_SCHEMA,
  type TraceExportOptions,
  type TraceRecord,
  type TurnRecord,
} from "./telemetry/trace-export.ts";
export {
  type ArtifactRef,
  type ArtifactStore,
  artifactId,
  FileArtifactStore,
  MemoryArtifactStore,
} from "./tool/artifacts.ts";
export type { BuiltinOptions, BuiltinSandboxOptions } from "./tool/builtin/env.ts";
export { BUILTIN_TOOL_NAMES, type BuiltinTools, builtinTools } from "./tool/builtin/index.ts";
export { latestTodos, renderTodos, TodoItem } from "./tool/builtin/todo_write/todos.ts";
export {
  defineTool,
  type InputOf,
  type JsonSchema,
  type ParseResult,
  type Tool,
  type ToolContext,
  type ToolDefinition,
  type ToolPermission,
  type ToolResult,
  ToolSet,
  toolSpec,
} from "./tool/define.ts";
export { limitOutput, type OutputLimit } from "./tool/output-limit.ts";
export {
  type GateDecision,
  ToolBatch,
  type ToolBatchEnv,
  type ToolGate,
} from "./tool/scheduler.ts";
export { type Truncated, truncateMiddle } from "./tool/truncate.ts";
export {
  canonicalJson,
  type ResultCacheOptions,
  type ResultCacheStats,
  withResultCache,
} from "./tool-cache/result-cache.ts";
export { LocalWorkspace, type LocalWorkspaceOptions } from "./workspace/local.ts";
export type { LocalFs } from "./workspace/local-commit.ts";
export { MemoryWorkspace } from "./workspace/memory.ts";
export { type S3ClientLike, S3Workspace, type S3WorkspaceOptions } from "./workspace/s3.ts";
export {
  type DirEntry,
  type FileChange,
  type FileKind,
  type FileStat,
  isWorkspaceError,
  type Workspace,
  WorkspaceError,
  type WorkspaceErrorCode,
} from "./workspace/types.ts";
