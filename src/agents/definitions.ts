/** Agent definitions from code and from Markdown files with front matter (`.taifeng/agents/*.md`). */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describeError, TaifengError } from "../errors.ts";
import { isPermissionMode } from "../permission/modes.ts";
import { parseFrontMatter } from "../skill/frontmatter.ts";
import { splitToolList } from "../skill/manifest.ts";
import type { AgentDefinition } from "./types.ts";

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** A definition problem: TaifengError `invalid_config` with `details.file` and `details.field`. */
function bad(message: string, file: string | undefined, field: string | undefined): TaifengError {
  return new TaifengError("invalid_config", message, {
    details: { ...(file !== undefined ? { file } : {}), ...(field !== undefined ? { field } : {}) },
  });
}

/**
 * Checks a definition and returns it. Throws TaifengError `invalid_config` naming the field
 * (and the file, for loaded definitions) when the name, description or instructions are
 * missing or malformed.
 */
export function defineAgent(definition: AgentDefinition): AgentDefinition {
  const where = definition.source ? ` (${definition.source})` : "";
  const file = definition.source;
  if (!NAME.test(definition.name))
    throw bad(
      `agent name ${JSON.stringify(definition.name)}${where}: use 1-64 of a-z, 0-9, "_" and "-", starting with a letter or digit`,
      file,
      "name",
    );
  if (definition.name === "inline")
    throw bad(`agent name "inline"${where} is reserved for inline instructions`, file, "name");
  if (definition.description.trim() === "")
    throw bad(`agent "${definition.name}"${where}: description is empty`, file, "description");
  if (definition.instructions.trim() === "")
    throw bad(`agent "${definition.name}"${where}: instructions are empty`, file, "instructions");
  if (definition.permissionMode !== undefined && !isPermissionMode(definition.permissionMode))
    throw bad(
      `agent "${definition.name}"${where}: unknown permission mode ${JSON.stringify(definition.permissionMode)}`,
      file,
      "permissionMode",
    );
  return definition;
}

const KNOWN = new Set(["name", "description", "tools", "model", "permissionMode", "maxSteps", "color"]);

/**
 * Parses one agent file: front matter `name`, `description`, optional `tools` (a list or a
 * comma/space separated string, as Claude Code's subagent files write it), `model` (a spec;
 * `inherit` = the parent's), `permissionMode`, `maxSteps`; the Markdown body is the
 * instructions. Unknown keys are errors (`color` is accepted and ignored). Throws
 * TaifengError `invalid_config` with the file and the problem.
 */
export function parseAgentMarkdown(text: string, file: string): AgentDefinition {
  const parsed = parseFrontMatter(text, file);
  if (!parsed.ok)
    throw bad(`${file}:${parsed.problem.line ?? 1}: ${parsed.problem.message}`, file, undefined);
  const data = parsed.value.data;
  if (typeof data !== "object" || data === null || Array.isArray(data))
    throw bad(`${file}: the front matter must be a mapping`, file, undefined);
  const fm = data as Record<string, unknown>;
  for (const key of Object.keys(fm))
    if (!KNOWN.has(key))
      throw bad(`${file}: unknown front matter key "${key}" (known: ${[...KNOWN].join(", ")})`, file, key);
  const str = (key: string): string | undefined => {
    const v = fm[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") throw bad(`${file}: "${key}" must be a string`, file, key);
    return v;
  };
  let tools: string[] | undefined;
  if (Array.isArray(fm.tools)) tools = fm.tools.map(String);
  else if (typeof fm.tools === "string") tools = splitToolList(fm.tools);
  else if (fm.tools !== undefined && fm.tools !== null)
    throw bad(`${file}: "tools" must be a list or a string`, file, "tools");
  const model = str("model");
  const mode = str("permissionMode");
  const maxSteps = fm.maxSteps;
  if (maxSteps !== undefined && (typeof maxSteps !== "number" || !Number.isInteger(maxSteps) || maxSteps < 1))
    throw bad(`${file}: "maxSteps" must be a positive integer`, file, "maxSteps");
  return defineAgent({
    name: str("name") ?? "",
    description: str("description") ?? "",
    instructions: parsed.value.body.trim(),
    ...(tools ? { tools } : {}),
    ...(model !== undefined && model !== "inherit" ? { model } : {}),
    ...(mode !== undefined ? { permissionMode: mode as AgentDefinition["permissionMode"] } : {}),
    ...(typeof maxSteps === "number" ? { maxSteps } : {}),
    source: file,
  });
}

/**
 * Loads every `*.md` file of each folder (missing folders are skipped), in name order. A later
 * folder's definition replaces an earlier one of the same name (project over user). Throws
 * TaifengError `invalid_config` for the first malformed file.
 */
export async function loadAgentDefinitions(dirs: readonly string[]): Promise<AgentDefinition[]> {
  const byName = new Map<string, AgentDefinition>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith(".md")).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    for (const name of names) {
      const file = join(dir, name);
      const def = parseAgentMarkdown(await readFile(file, "utf8"), file);
      byName.set(def.name, def);
    }
  }
  return [...byName.values()];
}

/** The folders agent definitions are read from: the user's, then the project's. */
export function agentDirs(cwd: string, home: string | undefined): string[] {
  const dirs: string[] = [];
  if (home) dirs.push(join(home, ".taifeng", "agents"));
  dirs.push(join(cwd, ".taifeng", "agents"));
  return dirs;
}

/** Where a found definition came from. */
export type AgentSource = "user" | "project";

/** What `scanAgentDefinitions` found: usable definitions, the ones they shadow, and broken files. */
export interface AgentScan {
  readonly agents: readonly {
    readonly definition: AgentDefinition;
    readonly source: AgentSource;
    readonly file: string;
    /** The file of a definition of the same name this one replaces (project over user). */
    readonly shadows?: string;
  }[];
  /** A file that could not be used: its path, the front matter field at fault (when one is), why. */
  readonly errors: readonly { readonly file: string; readonly field?: string; readonly message: string }[];
}

/**
 * Like `loadAgentDefinitions`, but never throws for a broken file: every `*.md` file of each
 * folder is tried, and each one that cannot be used is reported with its file and field.
 * `dirs` are searched in order (later ones win a name clash).
 */
export async function scanAgentDefinitions(
  dirs: readonly { readonly path: string; readonly source: AgentSource }[],
): Promise<AgentScan> {
  const byName = new Map<string, AgentScan["agents"][number]>();
  const errors: { file: string; field?: string; message: string }[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir.path)).filter((n) => n.endsWith(".md")).sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR")
        errors.push({ file: dir.path, message: describeError(err) });
      continue;
    }
    for (const name of names) {
      const file = join(dir.path, name);
      try {
        const definition = parseAgentMarkdown(await readFile(file, "utf8"), file);
        const earlier = byName.get(definition.name);
        byName.set(definition.name, {
          definition,
          source: dir.source,
          file,
          ...(earlier ? { shadows: earlier.file } : {}),
        });
      } catch (err) {
        const field = (err as TaifengError).details?.field;
        errors.push({ file, ...(typeof field === "string" ? { field } : {}), message: describeError(err) });
      }
    }
  }
  return { agents: [...byName.values()], errors };
}
