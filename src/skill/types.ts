import type { Plan } from "./plan.ts";

/** How front matter is checked: the published Agent Skills spec, or Claude Code-compatible leniency. */
export type SkillMode = "strict" | "lenient";

/** Where a skill root came from; decides precedence (host > project > user). */
export type SkillSource = "host" | "project" | "user";

/**
 * One problem found while loading a skill, located in a file (1-based line and column when
 * known). `error` problems make a skill unusable in the chosen mode; `warning`s do not.
 */
export interface SkillProblem {
  readonly severity: "error" | "warning";
  /** Stable machine-readable code, e.g. `invalid_name`, `yaml_syntax`, `missing_reference`. */
  readonly code: string;
  readonly message: string;
  readonly file: string;
  readonly line?: number | undefined;
  readonly column?: number | undefined;
}

/** What a skill needs from the machine it runs on (Taifeng extension `taifeng.requires`). */
export interface SkillRequirements {
  /** Executables that must all be on PATH. */
  readonly bins: readonly string[];
  /** Executables of which at least one must be on PATH. */
  readonly anyBins: readonly string[];
  /** Environment variables that must be set and non-empty. */
  readonly env: readonly string[];
  /** `process.platform` values the skill runs on; empty = any. */
  readonly os: readonly string[];
}

/** The parsed, validated front matter of a SKILL.md. */
export interface SkillManifest {
  readonly name: string;
  readonly description: string;
  readonly license?: string | undefined;
  readonly compatibility?: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  /** `allowed-tools` entries (`read_file`, `Bash(git:*)`, `Skill(name)`); undefined = not declared. */
  readonly allowedTools?: readonly string[] | undefined;
  /** Model spec for the skill's child turns (Claude Code `model`), resolved by the engine's resolver. */
  readonly model?: string | undefined;
  /** Claude Code `when_to_use`: appended to the description in the catalog. */
  readonly whenToUse?: string | undefined;
  /** Claude Code `disable-model-invocation`: left out of the catalog and not callable by the model. */
  readonly disableModelInvocation: boolean;
  readonly requires?: SkillRequirements | undefined;
  /** A composite skill's plan (Taifeng extension `taifeng.plan`). */
  readonly plan?: Plan | undefined;
  /** Every other accepted front matter field, verbatim (Claude Code's `effort`, `hooks`, ...). */
  readonly extra: Readonly<Record<string, unknown>>;
}

/** A file shipped in a skill's folder (relative path with `/` separators). */
export interface BundledFile {
  readonly path: string;
  readonly bytes: number;
}

/** A skill as loaded from disk. Immutable: a reload builds new objects. */
export interface Skill {
  readonly name: string;
  /** The skill folder (absolute). */
  readonly dir: string;
  /** The SKILL.md path (absolute): the skill's `location` in the catalog. */
  readonly file: string;
  readonly source: SkillSource;
  readonly manifest: SkillManifest;
  /** The Markdown body after the front matter. */
  readonly body: string;
  /** Files in the folder other than SKILL.md, sorted by path. */
  readonly files: readonly BundledFile[];
  readonly problems: readonly SkillProblem[];
  /** Why the skill cannot run here (missing binary, env var, OS, invalid plan); empty = eligible. */
  readonly ineligible: readonly string[];
  /** The path of the skill that shadows this one (same name, higher precedence). */
  readonly shadowedBy?: string | undefined;
  /** Where notable parts sit in SKILL.md, for problems found after parsing: `name`, and plan step labels. */
  readonly lines?: Readonly<Record<string, { readonly line: number; readonly column: number }>> | undefined;
}

/** True when a skill can be used: no shadowing and no eligibility problem. */
export function isUsable(skill: Skill): boolean {
  return skill.shadowedBy === undefined && skill.ineligible.length === 0;
}
