/**
 * The one configuration loader the CLI, the server and the library share. Reads the user's
 * and the project's `taifeng.config.{json,yaml}` and an explicit `--config` file, expands
 * `${VAR}` / `${VAR:-default}`, validates with the zod schema and merges them with a
 * recorded source for every value. Every problem is a TaifengError `invalid_config` whose
 * message starts with `file:line:column` and names the key.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { isMap, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import type { z } from "zod";
import { suggestKey } from "../config-keys.ts";
import { describeError, TaifengError } from "../errors.ts";
import { expand, type McpServerEntry, parseMcpServers } from "../mcp/config.ts";
import { isSecretName, looksLikeCredential } from "../redact/env.ts";
import { SECRET_KEYS, TaifengConfig } from "./schema.ts";

/** File names looked for, in this order, in the project and user folders. */
export const CONFIG_NAMES = ["taifeng.config.json", "taifeng.config.yaml", "taifeng.config.yml"] as const;

/** Where values come from, lowest precedence first. */
export type ConfigSourceKind = "default" | "user" | "project" | "file" | "flag";

/** Options for `loadConfig`. */
export interface LoadConfigOptions {
  /** The project folder. Default `process.cwd()`. */
  readonly cwd?: string;
  /** Environment for `${VAR}` expansion and the home folder. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The user's folder holding `taifeng.config.*`. Default `~/.taifeng`; `false` skips it. */
  readonly userDir?: string | false;
  /** An explicit file (`--config FILE`), above the project's. It must exist. */
  readonly file?: string;
  /** Values from command-line flags, highest precedence (already typed; validated like the files). */
  readonly overrides?: TaifengConfig;
}

/** The effective configuration. */
export interface LoadedConfig {
  readonly config: TaifengConfig;
  /** For every leaf path (`server.port`, `permissions.allow`), where its value came from. */
  readonly sources: Readonly<Record<string, string>>;
  /** Files read, lowest precedence first. */
  readonly files: readonly string[];
  /** `mcpServers`, validated and expanded by the MCP loader. */
  readonly mcpServers: readonly McpServerEntry[];
}

type Env = Readonly<Record<string, string | undefined>>;
type Json = Record<string, unknown>;

/**
 * Loads and merges the configuration: user < project < `file` < `overrides` (objects merge
 * key by key; arrays and scalars replace). Missing user and project files are skipped.
 * Throws TaifengError `invalid_config` naming the file, line, column and key.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = resolve(options.cwd ?? process.cwd());
  const layers: { source: string; kind: ConfigSourceKind; value: Json }[] = [];
  const files: string[] = [];
  const userDir = options.userDir === undefined ? join(env.HOME ?? homedir(), ".taifeng") : options.userDir;
  if (userDir !== false) {
    const file = findIn(userDir);
    if (file) layers.push({ source: file, kind: "user", value: readConfigFile(file, env) });
  }
  const projectFile = findIn(cwd);
  if (projectFile)
    layers.push({ source: projectFile, kind: "project", value: readConfigFile(projectFile, env) });
  if (options.file !== undefined) {
    const file = resolve(cwd, options.file);
    if (!existsSync(file))
      throw new TaifengError("invalid_config", `--config ${options.file}: no such file (${file})`);
    layers.push({ source: file, kind: "file", value: readConfigFile(file, env) });
  }
  if (options.overrides) {
    const checked = TaifengConfig.safeParse(options.overrides);
    if (!checked.success)
      throw new TaifengError("invalid_config", `command-line flags: ${formatIssue(checked.error.issues[0])}`);
    layers.push({ source: "flag", kind: "flag", value: stripUndefined(checked.data as Json) });
  }
  for (const l of layers) if (l.kind !== "flag") files.push(l.source);
  const sources: Record<string, string> = {};
  let merged: Json = {};
  for (const layer of layers) merged = mergeInto(merged, layer.value, layer.source, "", sources);
  const config = merged as TaifengConfig;
  const mcpServers: McpServerEntry[] = [];
  if (config.mcpServers) {
    const where = sources.mcpServers ?? "configuration";
    mcpServers.push(
      ...parseMcpServers(config.mcpServers, where, {
        env: env as NodeJS.ProcessEnv,
        ...(where.startsWith("/") ? { baseDir: dirname(where) } : {}),
        source: { scope: "host", ...(where.startsWith("/") ? { file: where } : {}) },
      }),
    );
  }
  return { config, sources, files, mcpServers };
}

function findIn(dir: string): string | undefined {
  const found = CONFIG_NAMES.map((n) => join(dir, n)).filter((f) => existsSync(f));
  if (found.length > 1)
    throw new TaifengError(
      "invalid_config",
      `${dir}: both ${found.map((f) => f.slice(dir.length + 1)).join(" and ")} exist; keep one configuration file`,
    );
  return found[0];
}

/**
 * Reads, checks and expands one file. Relative `storage.dir` and `skills.dirs` resolve
 * against the file's folder.
 */
export function readConfigFile(file: string, env: Env): Json {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new TaifengError("invalid_config", `${file}: cannot read (${describeError(err)})`);
  }
  return parseConfigText(text, file, env);
}

/** Parses configuration text (JSON or YAML) that came from `file`. Exported for tests and hosts. */
export function parseConfigText(text: string, file: string, env: Env): Json {
  if (file.endsWith(".json")) checkJsonSyntax(text, file);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (node: Node | null | undefined): string => {
    const offset = node?.range?.[0];
    if (offset === undefined) return file;
    const pos = lines.linePos(offset);
    return `${file}:${pos.line}:${pos.col}`;
  };
  const syntax = doc.errors[0];
  if (syntax) {
    const pos = lines.linePos(syntax.pos[0]);
    throw new TaifengError(
      "invalid_config",
      `${file}:${pos.line}:${pos.col}: ${syntax.message.split("\n")[0]}`,
    );
  }
  const raw: unknown = doc.contents === null ? {} : doc.toJS();
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new TaifengError("invalid_config", `${file}: the configuration must be an object of keys`);
  const locate = (path: readonly (string | number)[], key?: string): string => {
    const node = doc.getIn(path, true) as Node | undefined;
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      if (pair && isScalar(pair.key)) return at(pair.key);
    }
    return at(node ?? (doc.contents as Node | null));
  };
  checkSecrets(raw as Json, [], locate);
  const expanded = expandValues(raw as Json, [], env, locate) as Json;
  const parsed = TaifengConfig.safeParse(expanded);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    if (issue.code === "unrecognized_keys") {
      const key = issue.keys[0] as string;
      const full = [...path, key].join(".");
      const known = knownKeysAt(path);
      const hint = known ? suggestKey(key, known) : undefined;
      throw new TaifengError(
        "invalid_config",
        `${locate(path, key)}: unknown key "${full}"${hint ? `; did you mean "${hint}"?` : known ? `; known keys: ${known.join(", ")}` : ""}`,
      );
    }
    throw new TaifengError(
      "invalid_config",
      `${locate(path)}: "${path.join(".") || "(root)"}" ${issue.message}`,
    );
  }
  const value = stripUndefined(parsed.data as Json);
  const base = dirname(file);
  const storage = value.storage as { dir?: string } | undefined;
  if (storage?.dir !== undefined) storage.dir = resolve(base, storage.dir);
  const skills = value.skills as { dirs?: string[] } | undefined;
  if (skills?.dirs) skills.dirs = skills.dirs.map((d) => resolve(base, d));
  return value;
}

function knownKeysAt(path: readonly (string | number)[]): string[] | undefined {
  let schema: z.ZodType = TaifengConfig;
  for (const part of path) {
    const inner = unwrap(schema);
    const shape = (inner as { shape?: Record<string, z.ZodType> }).shape;
    if (shape && typeof part === "string" && shape[part]) schema = shape[part];
    else {
      const element = (inner as { valueType?: z.ZodType }).valueType;
      if (!element) return undefined;
      schema = element;
    }
  }
  const shape = (unwrap(schema) as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : undefined;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema as z.ZodType & { unwrap?: () => z.ZodType };
  while (typeof s.unwrap === "function") s = s.unwrap() as typeof s;
  return s;
}

/** A key that would hold a secret, or a value that looks like one, is an error. */
function checkSecrets(
  value: unknown,
  path: (string | number)[],
  locate: (p: (string | number)[], k?: string) => string,
): void {
  if (typeof value === "string") {
    if (looksLikeCredential(value))
      throw new TaifengError(
        "invalid_config",
        `${locate(path)}: "${path.join(".")}" looks like a literal secret; put it in an environment variable and name the variable instead`,
      );
    return;
  }
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) checkSecrets(v, [...path, i], locate);
    return;
  }
  if (typeof value !== "object" || value === null) return;
  const inMcp = path[0] === "mcpServers";
  for (const [k, v] of Object.entries(value)) {
    const instead = inMcp ? undefined : (SECRET_KEYS[k] ?? SECRET_KEYS[k.toLowerCase()]);
    if (instead !== undefined)
      throw new TaifengError(
        "invalid_config",
        `${locate(path, k)}: "${[...path, k].join(".")}" would put a secret in the file; use ${instead} instead`,
      );
    checkSecrets(v, [...path, k], locate);
  }
}

/**
 * Expands `${VAR}` in every string (the MCP loader expands `mcpServers` itself). A variable
 * whose name says it holds a secret may not be expanded into the configuration.
 */
function expandValues(
  value: unknown,
  path: (string | number)[],
  env: Env,
  locate: (p: (string | number)[]) => string,
): unknown {
  if (path[0] === "mcpServers") return value;
  if (typeof value === "string") {
    if (!value.includes("${")) return value;
    const where = `${locate(path)}: "${path.join(".")}"`;
    for (const m of value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) {
      if (isSecretName(m[1] as string))
        throw new TaifengError(
          "invalid_config",
          `${where} expands \${${m[1]}}, which holds a secret; name the variable (apiKeyEnv, tokens) instead`,
        );
    }
    return expand(value, env as NodeJS.ProcessEnv, where);
  }
  if (Array.isArray(value)) return value.map((v, i) => expandValues(v, [...path, i], env, locate));
  if (typeof value !== "object" || value === null) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) out[k] = expandValues(v, [...path, k], env, locate);
  return out;
}

function isPlainObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stripUndefined(value: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    out[k] = isPlainObject(v) ? stripUndefined(v) : v;
  }
  return out;
}

/** Merges `top` over `base`, recording the source of every leaf it sets. */
function mergeInto(
  base: Json,
  top: Json,
  source: string,
  prefix: string,
  sources: Record<string, string>,
): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(top)) {
    const path = prefix === "" ? k : `${prefix}.${k}`;
    // mcpServers, providers: merged by name; each named entry is a leaf.
    const byName = prefix === "" && (k === "mcpServers" || k === "providers");
    if (isPlainObject(v) && !byName) {
      out[k] = mergeInto(isPlainObject(out[k]) ? (out[k] as Json) : {}, v, source, path, sources);
    } else if (byName && isPlainObject(v)) {
      const named: Json = isPlainObject(out[k]) ? { ...(out[k] as Json) } : {};
      for (const [name, entry] of Object.entries(v)) {
        named[name] = entry;
        sources[`${path}.${name}`] = source;
      }
      out[k] = named;
      sources[path] = source;
    } else {
      out[k] = v;
      sources[path] = source;
    }
  }
  return out;
}

function formatIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return "invalid";
  return `"${issue.path.map(String).join(".")}" ${issue.message}`;
}

/**
 * A `.json` file must be JSON: its syntax errors are told in JSON's terms with a line and
 * column (the YAML parser, which reads both, would say "Flow map must end with a }").
 */
function checkJsonSyntax(text: string, file: string): void {
  if (text.trim() === "") return;
  try {
    JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const lc = /\(line (\d+) column (\d+)\)/.exec(message);
    const pos = /at position (\d+)/.exec(message);
    let where = file;
    if (lc) where = `${file}:${lc[1]}:${lc[2]}`;
    else if (pos) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split("\n").length;
      where = `${file}:${line}:${Number(pos[1]) - before.lastIndexOf("\n")}`;
    } else where = `${file}:${text.split("\n").length}`;
    const reason = message.replace(/\s*\(line \d+ column \d+\)/, "").replace(/ in JSON at position \d+/, "");
    throw new TaifengError("invalid_config", `${where}: not valid JSON: ${reason}`);
  }
}
