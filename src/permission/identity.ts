import type { ToolPermission } from "../tool/define.ts";

/** What the evaluator needs to know about a tool. */
export interface ToolFacts {
  readonly name: string;
  /** No side effects (defaults: allowed in every mode, plan included). */
  readonly readOnly: boolean;
  readonly permission?: ToolPermission | undefined;
  /** Destroys data: asks unless an allow rule names the tool (see Tool.destructive). */
  readonly destructive?: boolean | undefined;
}

/**
 * Built-in tool names and the rule names they answer to, for tools that do not declare a
 * `permission` themselves: shell → Bash; reading and searching → Read; writing, editing
 * and patching → Edit; HTTP → WebFetch; skills → Skill.
 */
export const BUILTIN_IDENTITIES: Readonly<Record<string, ToolPermission>> = {
  bash: { rule: "Bash", field: "command" },
  read_file: { rule: "Read", field: "path" },
  list: { rule: "Read", field: "path" },
  list_files: { rule: "Read", field: "path" },
  grep: { rule: "Read", field: "path" },
  glob: { rule: "Read", field: "path" },
  write_file: { rule: "Edit", field: "path" },
  edit_file: { rule: "Edit", field: "path" },
  apply_patch: { rule: "Edit", field: "path" },
  http_request: { rule: "WebFetch", field: "url" },
  call_skill: { rule: "Skill", subjects: skillSubjects },
  read_skill: { rule: "Skill", subjects: skillSubjects },
};

/**
 * A skill call's subject: its name, followed by its arguments when given as text — what
 * `Skill(name args)` rules match. `call_skill` (and a plan step, judged as one) sends them
 * as `input`; `args` and `arguments` are accepted for host tools.
 */
export function skillSubjects(input: unknown): string[] {
  const record = typeof input === "object" && input !== null ? (input as Record<string, unknown>) : {};
  const name = record.name ?? record.skill;
  if (typeof name !== "string" || name === "") return [];
  const args = record.input ?? record.args ?? record.arguments;
  return [typeof args === "string" && args.trim() !== "" ? `${name} ${args.trim()}` : name];
}

/** The rule names with a dedicated meaning, as accepted by `taifeng permissions check --tool`. */
export const RULE_IDENTITIES: Readonly<Record<string, ToolPermission>> = {
  Bash: { rule: "Bash", field: "command" },
  Read: { rule: "Read", field: "path" },
  Edit: { rule: "Edit", field: "path" },
  WebFetch: { rule: "WebFetch", field: "url" },
  Network: { rule: "WebFetch", field: "url" },
  Skill: { rule: "Skill", subjects: skillSubjects },
};

/** Other field names tried when a tool's declared field is missing from its input. */
const FALLBACK_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Bash: ["command", "cmd", "script"],
  Read: ["path", "file_path", "file", "filename", "paths", "dir", "directory"],
  Edit: ["path", "file_path", "file", "filename", "paths"],
  WebFetch: ["url", "uri", "href"],
  Skill: ["name", "skill"],
};

/** The identity a tool answers to: its own declaration, the built-in convention, or its name. */
export function identityOf(tool: ToolFacts): ToolPermission {
  return (
    tool.permission ?? BUILTIN_IDENTITIES[tool.name] ?? RULE_IDENTITIES[tool.name] ?? { rule: tool.name }
  );
}

/**
 * The subjects (commands, paths, URLs, names) a call's input presents to rules. Empty when
 * the input carries none. `Read` calls without a path read the working directory (`.`).
 */
export function subjectsOf(identity: ToolPermission, input: unknown): string[] {
  if (identity.subjects) {
    try {
      return identity.subjects(input).filter((s) => typeof s === "string");
    } catch {
      return [];
    }
  }
  const record = typeof input === "object" && input !== null ? (input as Record<string, unknown>) : {};
  const fields = [
    ...(identity.field !== undefined ? [identity.field] : []),
    ...(FALLBACK_FIELDS[identity.rule] ?? []),
  ];
  for (const field of fields) {
    const value = record[field];
    if (typeof value === "string" && value !== "") return [value];
    if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string")) {
      return value as string[];
    }
  }
  return identity.rule === "Read" ? ["."] : [];
}
