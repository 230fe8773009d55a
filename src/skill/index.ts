/**
 * The skills subsystem's public surface: loading and checking SKILL.md folders, the live
 * registry, the runtime that plugs skills into engines and pools, the catalog, the seams
 * (permission, hooks, script runner) and the plan format.
 */
export {
  type Catalog,
  type CatalogOptions,
  DEFAULT_CATALOG_BUDGET,
  estimateTokensByChars,
  renderCatalog,
} from "./catalog.ts";
export { checkRequirements, currentHost, type HostEnvironment } from "./eligibility.ts";
export { type FrontMatter, type FrontMatterResult, type Position, parseFrontMatter } from "./frontmatter.ts";
export {
  type LoadSkillOptions,
  type LoadSkillsOptions,
  loadSkillFolder,
  loadSkills,
  type SkillDiscoveryOptions,
  type SkillLoad,
  type SkillReport,
  type SkillRoot,
  skillRoots,
} from "./load.ts";
export {
  CLAUDE_CODE_FIELDS,
  checkManifest,
  type ManifestResult,
  SPEC_FIELDS,
  TAIFENG_FIELD,
} from "./manifest.ts";
export { type Condition, type Plan, type PlanIssue, type PlanStep, parsePlan } from "./plan.ts";
export { SkillRegistry, type SkillRegistryOptions, type SkillSnapshot } from "./registry.ts";
export { SkillRuntime, type SkillRuntimeOptions } from "./runtime.ts";
export { type SandboxedScriptOptions, sandboxedScriptRunner } from "./sandbox-runner.ts";
export { DEFAULT_TOOL_ALIASES } from "./scope.ts";
export { SCRIPT_TOOL_NAME, scriptCommandLine } from "./script-gate.ts";
export {
  commandFor,
  formatScriptResult,
  type ScriptRequest,
  type ScriptResult,
  type ScriptRunner,
  type SubprocessRunnerOptions,
  subprocessRunner,
} from "./scripts.ts";
export type {
  AuthorizeSkill,
  SkillActivation,
  SkillDecision,
  SkillHooks,
  SkillOutcome,
  SkillVia,
} from "./seams.ts";
export { SKILL_TOOL_NAMES } from "./tools.ts";
export {
  type BundledFile,
  isUsable,
  type Skill,
  type SkillManifest,
  type SkillMode,
  type SkillProblem,
  type SkillRequirements,
  type SkillSource,
} from "./types.ts";
