/** The agent tree's vocabulary: definitions, limits, statuses and the tree's event stream. */
import type { ModelClient } from "../llm/types.ts";
import type { PermissionMode } from "../permission/modes.ts";
import type { Event, Usage } from "../protocol/index.ts";

/**
 * What an agent is: a name the model and hosts use, a description (shown to the model that may
 * spawn it), the instructions that become its system prompt, and optionally its own model,
 * tool allow-list, permission mode and step limit. Build one in code (`defineAgent`) or load
 * Markdown files with front matter (`loadAgentDefinitions`).
 */
export interface AgentDefinition {
  /** `[a-z0-9_-]`, 1-64 characters; unique in a tree. */
  readonly name: string;
  readonly description: string;
  /** The system prompt of the agent's engine. */
  readonly instructions: string;
  /**
   * A client, or a spec the tree's `resolveModel` understands (`sim:child.json`,
   * `anthropic:claude-haiku-4-5`). Absent: the parent's model.
   */
  readonly model?: ModelClient | string | undefined;
  /**
   * Names of the parent's tools this agent may use (an allow-list). Absent: all of the
   * parent's tools. The agent tools (spawn_agent, ...) are added whenever the depth limit allows.
   */
  readonly tools?: readonly string[] | undefined;
  /** The permission mode of the agent's engine (e.g. `plan` for a read-only reviewer). */
  readonly permissionMode?: PermissionMode | undefined;
  /** Model calls per turn. Default: the tree's `engine.maxSteps` (or the engine default). */
  readonly maxSteps?: number | undefined;
  /** Where the definition came from (a file path), for messages. */
  readonly source?: string | undefined;
}

/**
 * Limits of a tree. Every breach is a model-readable tool output and a `warning` event
 * (code `agent_limit`) on the agent that hit it.
 */
export interface AgentLimits {
  /** Deepest child: the root is depth 0. Default 3. */
  readonly maxDepth?: number;
  /** Children one agent may spawn over its life. Default 16. */
  readonly maxChildren?: number;
  /**
   * Children running at once in the whole tree (a FIFO semaphore: excess spawns wait in
   * `queued`, they do not fail). Default 8.
   */
  readonly maxLive?: number;
  /** How often one agent may wait on its children (wait_agents calls). Default 32. */
  readonly maxWakes?: number;
  /** Wall time of one child's work, in ms, from its start; it is then stopped. 0 = none (default). */
  readonly childTimeoutMs?: number;
}

/** The limits with their defaults applied. */
export type ResolvedLimits = Required<AgentLimits>;

/** Defaults of AgentLimits. */
export const DEFAULT_LIMITS: ResolvedLimits = {
  maxDepth: 3,
  maxChildren: 16,
  maxLive: 8,
  maxWakes: 32,
  childTimeoutMs: 0,
};

/**
 * Where an agent is: `queued` (waiting for a live slot), `running` (a turn runs), `waiting`
 * (its turn waits on a person: an approval or a question), `idle` (the root between turns),
 * then one final status: `completed`, `failed` or `aborted`. A message to a finished child
 * starts a new turn on it (it is `running` again).
 */
export type AgentStatus = "queued" | "running" | "waiting" | "idle" | "completed" | "failed" | "aborted";

/** True for the statuses a join waits for. */
export function isFinal(status: AgentStatus): boolean {
  return status === "completed" || status === "failed" || status === "aborted";
}

/** What `list_agents`, `query_agent` and hosts see of an agent. */
export interface AgentInfo {
  /** The agent path, e.g. `root/researcher#2`: the id the model and hosts use. */
  readonly id: string;
  readonly threadId: string;
  /** The definition's name, `inline`, or the root's name. */
  readonly name: string;
  readonly parent: string | undefined;
  readonly depth: number;
  readonly status: AgentStatus;
  readonly task: string | undefined;
  /** The final text of its last finished turn. */
  readonly output: string | undefined;
  /** Why it failed or was stopped. */
  readonly error: string | undefined;
  /** Usage of all its turns seen by this tree (its own, not its children's). */
  readonly usage: Usage;
  readonly children: readonly string[];
}

/** One event of one engine of the tree, tagged with the agent it belongs to. */
export interface TreeEvent {
  /** The agent path. */
  readonly agent: string;
  readonly event: Event;
}
