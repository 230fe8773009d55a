/** Agents: detached children, joins, mailboxes, agent-as-tool, handoffs, patterns, guardrails. */
export { agentDirs, defineAgent, loadAgentDefinitions, parseAgentMarkdown } from "./definitions.ts";
export { AGENT_TOOL_NAMES } from "./tools.ts";
export {
  AgentTree,
  type AgentTreeOptions,
  type SharedEngineOptions,
  type SpawnRequest,
  type SpawnResult,
} from "./tree.ts";
export {
  type AgentDefinition,
  type AgentInfo,
  type AgentLimits,
  type AgentStatus,
  DEFAULT_LIMITS,
  isFinal,
  type TreeEvent,
} from "./types.ts";
