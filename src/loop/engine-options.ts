/** What `AgentEngine.open` accepts, and the context options an engine derives from it. */
import type { ContextOptions } from "../context/manager.ts";
import type { TokenCounter } from "../context/tokens.ts";
import type { ThreadStore } from "../conversation/store.ts";
import type { HookOptions } from "../hooks/options.ts";
import type { LangChainToolLike } from "../interop/foreign.ts";
import { builtinCatalog, type ModelCatalog } from "../llm/catalog.ts";
import type { ModelClient } from "../llm/types.ts";
import type { PermissionOptions } from "../permission/options.ts";
import type { RolloutLineOf } from "../protocol/index.ts";
import type { Redactor } from "../redact/types.ts";
import type { ArtifactStore } from "../tool/artifacts.ts";
import type { Tool } from "../tool/define.ts";
import type { ToolGate } from "../tool/scheduler.ts";
import type { OutputSpec } from "./completion.ts";
import type { EventListener } from "./event-hub.ts";
import type { PrepareTurn } from "./prefix.ts";
import type { StepCheck } from "./step-check.ts";

/** Options for `AgentEngine.open`. Only `model` is required. */
export interface EngineOptions {
  /** The model every turn samples (until an override_context op changes it). */
  readonly model: ModelClient;
  /** Resolves `override_context.model` specs such as `sim:script.json`. */
  readonly resolveModel?: (spec: string) => Promise<ModelClient>;
  /**
   * The tools the model may call. LangChain.js tools are accepted as they are (recognized by
   * shape, see `toTools`); Vercel AI SDK tools, which carry no name, go through `toTools({ name: tool })`.
   */
  readonly tools?: Iterable<Tool | LangChainToolLike>;
  /** System instructions: the stable head of every prompt. */
  readonly system?: string;
  /** Where the transcript lives; default: a private in-memory store. */
  readonly store?: ThreadStore;
  /** Resume this thread if it exists in the store, else create it with this id. */
  readonly threadId?: string;
  readonly title?: string;
  /** Recorded in a new thread's `thread_meta.agent`: the child agent this thread is (see src/agents). */
  readonly spawnedAs?: RolloutLineOf<"thread_meta">["payload"]["agent"];
  /** The thread's working directory, given to tools. Default `process.cwd()`. */
  readonly cwd?: string;
  /** Model calls per turn before it fails with `max_steps`. Default 50. */
  readonly maxSteps?: number;
  /** Concurrency-safe tool calls running at once. Default 8. */
  readonly maxParallelTools?: number;
  /** Timeout for tools that set none, in ms; 0 = none. Default 600000. */
  readonly toolTimeoutMs?: number;
  /** Start read-only, concurrency-safe tools while the model is still streaming. Default true. */
  readonly startToolsDuringStream?: boolean;
  /** `task_finish`: a turn ends only when the model calls task_finish. Default `natural`. */
  readonly completion?: "natural" | "task_finish";
  /** Validate the final answer against this schema (structured output). */
  readonly output?: OutputSpec;
  /** How often the model may correct an answer that fails `output`. Default 2. */
  readonly outputRetries?: number;
  /**
   * Context window budget and compaction (on by default with a 128k window; pass `false` to
   * turn it off). The token counter defaults to the model's exact tokenizer when one is
   * available offline (OpenAI families), else a calibrated heuristic.
   */
  readonly context?: ContextOptions | false;
  /**
   * Longest tool output the model sees, in characters; longer outputs keep their head and
   * tail and the full text goes to `artifacts` (readable with `read_artifact`, added when
   * missing). Default 30,000; `false` turns the cap off.
   */
  readonly maxToolOutputChars?: number | false;
  /** Where full tool outputs and trimmed history are kept. Default: in memory, per engine. */
  readonly artifacts?: ArtifactStore;
  /** Where context windows come from (budgets); default: the built-in catalog. */
  readonly catalog?: ModelCatalog;
  /** Decides whether each tool call may run (a custom seam; runs after `permissions`). */
  readonly gate?: ToolGate;
  /**
   * Builds each turn's stable prefix from `system` and `tools`, once at the start of the
   * turn (the skill catalog plugs in here). See PrepareTurn.
   */
  readonly prepareTurn?: PrepareTurn;
  /**
   * Permission policy: rules, mode, settings discovery, `canUseTool`, approval timeout.
   * Without it every tool call runs. See docs/guides/permissions.md.
   */
  readonly permissions?: PermissionOptions;
  /**
   * `false` when nobody can answer a person's request on this engine (a batch job, `run()`
   * without `onRequest`): a call that would need an approval is denied at once, and
   * `ask_user` (a tool's `ctx.askUser`) answers that no user can reply, so the model goes on
   * with a stated assumption. Overrides `permissions.interactive`. Default true: the host
   * answers `permission_requested` / `user_input_requested` with `approval` /
   * `user_input_answer` ops.
   */
  readonly interactive?: boolean;
  /**
   * What opening a thread does with a turn a crash left open (not waiting on a person):
   * `abort` (default) closes it (`turn_aborted`, reason `crash`); `continue` resumes it under
   * its submission id: calls cut off while running get an "interrupted, not retried" output,
   * except a trailing run of calls to idempotent tools, which run again; then the turn goes on
   * with its next model call. Execution backends that redeliver work use `continue`.
   */
  readonly crashedTurns?: "abort" | "continue";
  /** Lifecycle hooks (in-process and shell-command). See docs/guides/hooks.md. */
  readonly hooks?: HookOptions;
  /**
   * Masks secrets in everything the engine keeps or publishes: tool outputs and every other
   * history item before the model sees them (and so in the transcript), every event, full
   * outputs kept as artifacts, the audit log. Default: `defaultRedactor()`, built once from
   * `process.env` (secret-looking variables) and the well-known token formats; `false` turns
   * redaction off. See docs/guides/permissions.md (redaction).
   */
  readonly redactor?: Redactor | false;
  /**
   * Consulted before every model call of every turn, in order: spend budgets and loop
   * detectors (see `src/reliability/`) stop a turn or nudge the model here. See StepCheck.
   */
  readonly stepChecks?: readonly StepCheck[];
  /** Finished submissions whose events stay available to late subscribers. Default 32. */
  readonly retainSubmissions?: number;
  /** Listeners attached before the first event (sinks). */
  readonly listeners?: readonly EventListener[];
  /** Called when a listener throws. */
  readonly onListenerError?: (err: unknown) => void;
}

/**
 * The context manager's options: the host's `context` options over the budget the model's
 * catalog entry implies (window; answer reserve capped at 8,192 tokens), with the engine's
 * artifact store and the resolved token counter.
 */
export function contextOptions(
  options: EngineOptions,
  artifacts: ArtifactStore,
  counter: TokenCounter,
): ContextOptions {
  const info = (options.catalog ?? builtinCatalog()).forClient(options.model.id);
  const given = options.context || undefined;
  const budget = info
    ? {
        contextWindow: info.contextWindow,
        reserveOutputTokens: Math.min(info.maxOutputTokens, 8_192),
        ...(info.prices ? { prices: info.prices } : {}),
      }
    : undefined;
  if (!given && !budget) return { artifacts, counter };
  return { artifacts, ...budget, ...given, counter };
}
