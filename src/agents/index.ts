/** Agents: detached children, joins, mailboxes, agent-as-tool, handoffs, patterns, guardrails. */
export { type AgentToolOptions, agentTool } from "./agent-tool.ts";
export {
  type AgentScan,
  type AgentSource,
  agentDirs,
  defineAgent,
  loadAgentDefinitions,
  parseAgentMarkdown,
  scanAgentDefinitions,
} from "./definitions.ts";
export {
  type Guardrail,
  type GuardrailInput,
  type GuardrailOptions,
  guardToolOutputs,
  modelGuardrail,
  runChecks,
  type ToolGuardrailOptions,
  toolInputGate,
  withGuardrails,
} from "./guardrails.ts";
export { type HandoffContext, type HandoffOptions, type Handoffs, handoffs, swarm } from "./handoff.ts";
export { type Intent, type IntentOptions, type IntentRouting, intentRouting } from "./intent.ts";
export { type AgentRunner, agentRunner, loop, parallel, router, sequential } from "./patterns.ts";
export { type KeepAliveOptions, keepAlive, type PersistentAgent } from "./persistent.ts";
export { SharedState, type StateOp, type StateScope } from "./state.ts";
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
