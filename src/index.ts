/**
 * Taifeng's public API. Everything a host may use is re-exported here; anything not
 * exported here is internal and may change without notice.
 */

export { type ParsedTranscript, parseTranscript } from "./conversation/jsonl-reader.ts";
export { type JsonlStoreOptions, JsonlThreadStore } from "./conversation/jsonl-store.ts";
export type { CommitInfo } from "./conversation/jsonl-writer.ts";
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
export { type AssembledResponse, ResponseAssembler } from "./llm/assemble.ts";
export { modelError, RETRYABLE_MODEL_ERRORS } from "./llm/errors.ts";
export {
  ModelRegistry,
  type ProviderFactory,
  parseModelSpec,
  type ResolveOptions,
} from "./llm/resolve.ts";
export * from "./llm/sim/index.ts";
export type {
  FinishReason,
  ModelClient,
  ModelErrorCode,
  ModelEvent,
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
export type { EventListener } from "./loop/event-hub.ts";
export { EnginePool, type PoolOptions, type SessionOptions } from "./loop/pool.ts";
export { type RunOptions, type RunResult, type RunStream, run, stream } from "./loop/run.ts";
export type { TurnInput } from "./loop/turn.ts";
export * from "./protocol/index.ts";
export {
  defineTool,
  type InputOf,
  type JsonSchema,
  type ParseResult,
  type Tool,
  type ToolContext,
  type ToolDefinition,
  type ToolResult,
  ToolSet,
  toolSpec,
} from "./tool/define.ts";
export { type GateDecision, ToolBatch, type ToolBatchEnv, type ToolGate } from "./tool/scheduler.ts";
