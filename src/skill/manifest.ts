import type { FrontMatter } from "./frontmatter.ts";
import { parsePlan } from "./plan.ts";
import type { SkillManifest, SkillMode, SkillProblem, SkillRequirements } from "./types.ts";

/** The fields of the published Agent Skills specification. */
export const SPEC_FIELDS = [
  "name",
  "description",
  "license",
  "compatibility",
  "metadata",
  "allowed-tools",
] as const;

/** Claude Code's documented SKILL.md fields beyond the spec, accepted in lenient mode. */
export const CLAUDE_CODE_FIELDS = [
  "when_to_use",
  "argument-hint",
  "arguments",
  "disable-model-invocation",
  "user-invocable",
  "model",
  "effort",
  "context",
  "agent",
  "hooks",
  "paths",
  "shell",
  "version",
] as const;

/** Taifeng's own extension block (eligibility and composite plans). */
export const TAIFENG_FIELD = "taifeng";

const NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const MAX_NAME = 64;
const MAX_DESCRIPTION = 1024;
const MAX_COMPATIBILITY = 500;

/** The outcome of checking one front matter: a manifest unless the skill must be skipped. */
export interface ManifestResult {
  readonly manifest: SkillManifest | undefined;
  readonly problems: SkillProblem[];
}

type Severity = SkillProblem["severity"];

/**
 * Checks front matter against the Agent Skills spec. `strict`: every deviation is an error
 * (name 1-64 of `a-z0-9` with single inner hyphens, equal to the folder; description 1-1024;
 * compatibility 1-500; metadata string -> string; no other keys). `lenient`: Claude Code's
 * extra fields are accepted, deviations are warnings, and the skill is skipped (no manifest)
 * only when its description is missing. In both modes the `taifeng` extension block is
 * checked exactly (its problems are errors; strict mode also rejects the block itself).
 */
export function checkManifest(
  fm: FrontMatter,
  folder: string,
  file: string,
  mode: SkillMode,
): ManifestResult {
  const problems: SkillProblem[] = [];
  const soft: Severity = mode === "strict" ? "error" : "warning";
  const report = (
    severity: Severity,
    code: string,
    message: string,
    path: (string | number)[],
    key = false,
  ) => {
    const at = fm.locate(path, { key });
    problems.push({ severity, code, message, file, line: at?.line, column: at?.column });
  };
  const data = fm.data;
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    report("error", "not_a_mapping", "the front matter must be a YAML mapping (key: value lines)", []);
    return { manifest: undefined, problems };
  }
  const fields = data as Record<string, unknown>;

  for (const key of Object.keys(fields)) {
    if ((SPEC_FIELDS as readonly string[]).includes(key)) continue;
    if (mode === "strict") {
      const why = (CLAUDE_CODE_FIELDS as readonly string[]).includes(key)
        ? "a Claude Code extension"
        : key === TAIFENG_FIELD
          ? "a Taifeng extension"
          : "unknown";
      report(
        "error",
        "unknown_field",
        `field \`${key}\` is not part of the Agent Skills spec (${why})`,
        [key],
        true,
      );
    } else if (!(CLAUDE_CODE_FIELDS as readonly string[]).includes(key) && key !== TAIFENG_FIELD) {
      report("warning", "unknown_field", `unknown field \`${key}\` is ignored`, [key], true);
    }
  }

  const description = fields.description;
  let okDescription: string | undefined;
  if (typeof description !== "string" || description.trim() === "") {
    report(
      "error",
      "missing_description",
      description === undefined
        ? "`description` is required: it is how the model decides when to use the skill"
        : "`description` must be a non-empty string",
      ["description"],
      description !== undefined,
    );
  } else {
    okDescription = description.trim();
    if (description.length > MAX_DESCRIPTION)
      report(
        soft,
        "description_too_long",
        `\`description\` has ${description.length} characters (at most ${MAX_DESCRIPTION})`,
        ["description"],
      );
  }

  const name = checkName(fields.name, folder, soft, report);
  const license = optionalString(fields, "license", soft, report);
  const compatibility = optionalString(fields, "compatibility", soft, report);
  if (compatibility !== undefined && (compatibility.length === 0 || compatibility.length > MAX_COMPATIBILITY))
    report(
      soft,
      "invalid_field",
      `\`compatibility\` must have 1-${MAX_COMPATIBILITY} characters (has ${compatibility.length})`,
      ["compatibility"],
    );
  const metadata = checkMetadata(fields.metadata, soft, report);
  const allowedTools = checkAllowedTools(fields["allowed-tools"], mode, report);

  const lenient = mode === "lenient";
  const model = lenient ? optionalString(fields, "model", "warning", report) : undefined;
  const whenToUse = lenient ? optionalString(fields, "when_to_use", "warning", report) : undefined;
  let disableModelInvocation = false;
  if (lenient && fields["disable-model-invocation"] !== undefined) {
    if (typeof fields["disable-model-invocation"] === "boolean")
      disableModelInvocation = fields["disable-model-invocation"];
    else
      report("warning", "invalid_field", "`disable-model-invocation` must be true or false", [
        "disable-model-invocation",
      ]);
  }
  const ext = checkExtension(fields[TAIFENG_FIELD], report);

  if (okDescription === undefined) return { manifest: undefined, problems };
  const extra: Record<string, unknown> = {};
  for (const key of CLAUDE_CODE_FIELDS) if (lenient && fields[key] !== undefined) extra[key] = fields[key];
  return {
    manifest: {
      name,
      description: okDescription,
      license,
      compatibility,
      metadata,
      allowedTools,
      model,
      whenToUse,
      disableModelInvocation,
      requires: ext.requires,
      plan: ext.plan,
      extra,
    },
    problems,
  };
}

type Report = (
  severity: Severity,
  code: string,
  message: string,
  path: (string | number)[],
  key?: boolean,
) => void;

function checkName(raw: unknown, folder: string, soft: Severity, report: Report): string {
  if (raw === undefined) {
    report(soft, "missing_name", `\`name\` is required; using the folder name "${folder}"`, []);
    return folder;
  }
  if (typeof raw !== "string" || raw === "") {
    report(soft, "invalid_name", `\`name\` must be a non-empty string; using the folder name "${folder}"`, [
      "name",
    ]);
    return folder;
  }
  if (raw.length > MAX_NAME || !NAME.test(raw)) {
    report(
      soft,
      "invalid_name",
      `\`name\` "${raw}" must be 1-${MAX_NAME} lowercase letters, digits and single hyphens, not starting or ending with a hyphen`,
      ["name"],
    );
  }
  if (raw !== folder)
    report(soft, "name_mismatch", `\`name\` "${raw}" must equal its folder name "${folder}"`, ["name"]);
  return raw;
}

function optionalString(
  fields: Record<string, unknown>,
  key: string,
  severity: Severity,
  report: Report,
): string | undefined {
  const value = fields[key];
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  report(severity, "invalid_field", `\`${key}\` must be a string`, [key]);
  return undefined;
}

function checkMetadata(raw: unknown, soft: Severity, report: Report): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    report(soft, "invalid_field", "`metadata` must be a mapping of string keys to string values", [
      "metadata",
    ]);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value === "string") out[key] = value;
    else {
      report(soft, "invalid_field", `\`metadata.${key}\` must be a string`, ["metadata", key]);
      if (value !== null && typeof value !== "object") out[key] = String(value);
    }
  }
  return out;
}

function checkAllowedTools(raw: unknown, mode: SkillMode, report: Report): string[] | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === "string") return splitToolList(raw);
  if (mode === "lenient" && Array.isArray(raw) && raw.every((t) => typeof t === "string")) {
    return raw.flatMap((t: string) => splitToolList(t));
  }
  report(
    mode === "strict" ? "error" : "warning",
    "invalid_field",
    mode === "strict"
      ? "`allowed-tools` must be a space-separated string"
      : "`allowed-tools` must be a space-separated string or a list of strings",
    ["allowed-tools"],
  );
  return undefined;
}

/** Splits `Read Bash(git log:*) Skill(x)` on spaces and commas outside parentheses. */
export function splitToolList(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth = Math.max(0, depth - 1);
    if (depth === 0 && (ch === " " || ch === "," || ch === "\t" || ch === "\n")) {
      if (current !== "") out.push(current);
      current = "";
    } else current += ch;
  }
  if (current !== "") out.push(current);
  return out;
}

function checkExtension(
  raw: unknown,
  report: Report,
): { requires: SkillRequirements | undefined; plan: SkillManifest["plan"] } {
  if (raw === undefined) return { requires: undefined, plan: undefined };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    report("error", "invalid_extension", "`taifeng` must be a mapping with `requires` and/or `plan`", [
      TAIFENG_FIELD,
    ]);
    return { requires: undefined, plan: undefined };
  }
  const block = raw as Record<string, unknown>;
  for (const key of Object.keys(block))
    if (key !== "requires" && key !== "plan")
      report(
        "error",
        "invalid_extension",
        `unknown field \`taifeng.${key}\` (allowed: requires, plan)`,
        [TAIFENG_FIELD, key],
        true,
      );
  const requires = block.requires === undefined ? undefined : checkRequires(block.requires, report);
  let plan: SkillManifest["plan"];
  if (block.plan !== undefined) {
    const parsed = parsePlan(block.plan);
    for (const issue of parsed.issues)
      report("error", "invalid_plan", `plan: ${issue.message}`, [TAIFENG_FIELD, "plan", ...issue.path]);
    plan = parsed.plan;
  }
  return { requires, plan };
}

const REQUIRE_KEYS = ["bins", "anyBins", "env", "os"] as const;

function checkRequires(raw: unknown, report: Report): SkillRequirements | undefined {
  const at = [TAIFENG_FIELD, "requires"];
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    report(
      "error",
      "invalid_extension",
      "`taifeng.requires` must be a mapping of bins, anyBins, env, os",
      at,
    );
    return undefined;
  }
  const block = raw as Record<string, unknown>;
  const out: Record<string, string[]> = { bins: [], anyBins: [], env: [], os: [] };
  let ok = true;
  for (const [key, value] of Object.entries(block)) {
    if (!(REQUIRE_KEYS as readonly string[]).includes(key)) {
      report(
        "error",
        "invalid_extension",
        `unknown field \`taifeng.requires.${key}\` (allowed: ${REQUIRE_KEYS.join(", ")})`,
        [...at, key],
        true,
      );
      ok = false;
      continue;
    }
    const list = typeof value === "string" ? [value] : value;
    if (!Array.isArray(list) || !list.every((v) => typeof v === "string" && v !== "")) {
      report("error", "invalid_extension", `\`taifeng.requires.${key}\` must be a list of names`, [
        ...at,
        key,
      ]);
      ok = false;
      continue;
    }
    out[key] = list as string[];
  }
  return ok ? (out as unknown as SkillRequirements) : undefined;
}
