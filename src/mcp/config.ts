/**
 * MCP server configuration in Claude Code's `.mcp.json` shape, plus Taifeng's per-server
 * options. Parsing is strict: an unknown key, a wrong type or an unset `${VAR}` is an error
 * that names the file, the server and the field.
 */

import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { unknownKeys } from "../config-keys.ts";
import { describeError, TaifengError } from "../errors.ts";

const NameList = z.array(z.string().min(1));

/** Options every server kind shares (Taifeng's additions to the `.mcp.json` shape). */
const Common = {
  /** Only these tools (server-side names; `*` wildcards) are exposed. */
  allowedTools: NameList.optional(),
  /** These tools (server-side names; `*` wildcards) are never exposed. Wins over `allowedTools`. */
  disabledTools: NameList.optional(),
  /** Longest a call may run, waiting on a person excluded, in ms. Default 120,000. */
  timeoutMs: z.number().int().positive().optional(),
  /** `eager` (default): connect when the manager opens; `lazy`: at the first turn that needs tools. */
  startup: z.enum(["eager", "lazy"]).optional(),
  /**
   * `auto` (default): probe for the 2026-07-28 era and fall back to the 2025 handshake;
   * `legacy`: 2025 handshake only; a version string pins the modern era at that revision.
   */
  protocol: z.union([z.enum(["auto", "legacy"]), z.string().regex(/^\d{4}-\d{2}-\d{2}$/)]).optional(),
  /**
   * Believe the server's `readOnlyHint` annotations: its read-only tools then count as
   * read-only for permissions (allowed in default and plan modes). Default false: hints
   * only make a tool concurrency-safe.
   */
  trustAnnotations: z.boolean().optional(),
  /** Sampling requests: `ask` (default: a person approves each), `allow`, or `deny`. */
  sampling: z.enum(["ask", "allow", "deny"]).optional(),
  /**
   * MCP tasks (2025-11-25 servers that offer them): `auto` (default) runs a tool that allows
   * tasks as one (created, followed, its result fetched, cancelled on interrupt); `off` calls
   * every tool plainly and leaves out tools that can only run as tasks.
   */
  tasks: z.enum(["auto", "off"]).optional(),
};

/** A server Taifeng starts as a child process and talks to over stdin/stdout. */
export const McpStdioServer = z.strictObject({
  type: z.literal("stdio").optional(),
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  /** Added to the allowlisted environment the child gets (never the whole parent environment). */
  env: z.record(z.string(), z.string()).optional(),
  /** Working directory; relative paths resolve against the config file's folder. */
  cwd: z.string().optional(),
  ...Common,
});
export type McpStdioServer = z.infer<typeof McpStdioServer>;

/** OAuth 2.1 (authorization code + PKCE) for an HTTP server. */
export const McpOAuth = z.strictObject({
  /** A pre-registered client id; without it the client registers itself dynamically. */
  clientId: z.string().min(1).optional(),
  /** Name of the environment variable holding the client secret (confidential clients). */
  clientSecretEnv: z.string().min(1).optional(),
  /** Scopes to request, space-separated. */
  scope: z.string().optional(),
  /** Where the authorization server sends the browser back. Default `http://127.0.0.1:33418/callback`. */
  redirectUrl: z.url().optional(),
});
export type McpOAuth = z.infer<typeof McpOAuth>;

const HttpFields = {
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).optional(),
  /** Name of the environment variable holding a bearer token (sent as `Authorization`). */
  bearerTokenEnv: z.string().min(1).optional(),
  /** OAuth 2.1 through the SDK's client provider; `true` uses dynamic registration. */
  oauth: z.union([z.literal(true), McpOAuth]).optional(),
  ...Common,
};

/** A Streamable HTTP server (falls back to legacy HTTP+SSE when the server is that old). */
export const McpHttpServer = z.strictObject({ type: z.literal("http"), ...HttpFields });
export type McpHttpServer = z.infer<typeof McpHttpServer>;

/** A legacy HTTP+SSE server (protocol 2024-11-05). */
export const McpSseServer = z.strictObject({ type: z.literal("sse"), ...HttpFields });
export type McpSseServer = z.infer<typeof McpSseServer>;

/** One server's configuration. */
export type McpServerConfig = McpStdioServer | McpHttpServer | McpSseServer;

/** True for a stdio server's configuration. */
export function isStdioServer(config: McpServerConfig): config is McpStdioServer {
  return config.type === undefined || config.type === "stdio";
}

/** Where a server's configuration came from; `file` is absent for the host's own options. */
export interface McpServerSource {
  readonly scope: "host" | "project" | "user";
  readonly file?: string | undefined;
}

/** A named, validated, `${VAR}`-expanded server configuration. */
export interface McpServerEntry {
  readonly name: string;
  readonly config: McpServerConfig;
  readonly source: McpServerSource;
}

const SERVER_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * Validates one `mcpServers` object and expands `${VAR}` / `${VAR:-default}` in `command`,
 * `args`, `env`, `cwd`, `url` and `headers`. Throws TaifengError `invalid_config` naming
 * `where` (the file), the server and the field.
 */
export function parseMcpServers(
  raw: unknown,
  where: string,
  options: {
    readonly env?: NodeJS.ProcessEnv;
    readonly baseDir?: string;
    readonly source?: McpServerSource;
  } = {},
): McpServerEntry[] {
  const env = options.env ?? process.env;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new TaifengError("invalid_config", `${where}: "mcpServers" must be an object of named servers`);
  const out: McpServerEntry[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (name.includes("__") || !SERVER_NAME.test(name))
      throw new TaifengError(
        "invalid_config",
        `${where}: server name "${name}" must be 1-64 letters, digits, "_" or "-" without "__" (it becomes part of tool names mcp__${name}__...)`,
      );
    const config = parseServer(value, `${where}: server "${name}"`);
    const expanded = expandServer(config, (field, text) =>
      expand(text, env, `${where}: server "${name}", ${field}`),
    );
    if (isStdioServer(expanded)) {
      if (expanded.cwd !== undefined && options.baseDir !== undefined)
        out.push({
          name,
          config: { ...expanded, cwd: resolve(options.baseDir, expanded.cwd) },
          source: options.source ?? { scope: "host" },
        });
      else out.push({ name, config: expanded, source: options.source ?? { scope: "host" } });
    } else {
      if (expanded.bearerTokenEnv !== undefined && expanded.oauth !== undefined)
        throw new TaifengError(
          "invalid_config",
          `${where}: server "${name}": bearerTokenEnv and oauth exclude each other`,
        );
      out.push({ name, config: expanded, source: options.source ?? { scope: "host" } });
    }
  }
  return out;
}

function parseServer(value: unknown, where: string): McpServerConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new TaifengError("invalid_config", `${where} must be an object`);
  const type = (value as { type?: unknown }).type;
  const schema =
    type === "http" || type === "streamable-http"
      ? McpHttpServer
      : type === "sse"
        ? McpSseServer
        : type === undefined || type === "stdio"
          ? McpStdioServer
          : undefined;
  if (!schema)
    throw new TaifengError(
      "invalid_config",
      `${where}, field "type": must be "stdio", "http" or "sse", not ${JSON.stringify(type)}`,
    );
  const input = type === "streamable-http" ? { ...value, type: "http" } : value;
  if (schema === McpStdioServer && "url" in input)
    throw new TaifengError(
      "invalid_config",
      `${where}: has a "url" but no "type": set "type": "http" (or "sse")`,
    );
  // A misspelled key (`comand`) is named with the key it probably meant, before the schema
  // would only say that `command` is missing.
  const unknown = unknownKeys(input as Record<string, unknown>, Object.keys(schema.shape), "");
  if (unknown[0] !== undefined) throw new TaifengError("invalid_config", `${where}: ${unknown[0]}`);
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (!issue) throw new TaifengError("invalid_config", `${where} is invalid`);
  const field = issue.path.map(String).join(".");
  const keys =
    issue.code === "unrecognized_keys"
      ? ` (unknown key${issue.keys.length > 1 ? "s" : ""}: ${issue.keys.join(", ")})`
      : "";
  throw new TaifengError(
    "invalid_config",
    `${where}${field ? `, field "${field}"` : ""}: ${issue.message}${keys}`,
  );
}

function expandServer(config: McpServerConfig, x: (field: string, text: string) => string): McpServerConfig {
  const record = (field: string, r: Record<string, string> | undefined) =>
    r === undefined
      ? undefined
      : Object.fromEntries(Object.entries(r).map(([k, v]) => [k, x(`field "${field}.${k}"`, v)]));
  if (!isStdioServer(config)) {
    const url = x('field "url"', config.url);
    if (!URL.canParse(url))
      throw new TaifengError("invalid_config", `field "url" expands to an invalid URL: ${url}`);
    const headers = record("headers", config.headers);
    return { ...config, url, ...(headers ? { headers } : {}) };
  }
  const env = record("env", config.env);
  return {
    ...config,
    command: x('field "command"', config.command),
    ...(config.args ? { args: config.args.map((a, i) => x(`field "args.${i}"`, a)) } : {}),
    ...(env ? { env } : {}),
    ...(config.cwd !== undefined ? { cwd: x('field "cwd"', config.cwd) } : {}),
  };
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Expands `${VAR}` and `${VAR:-default}`; an unset variable without a default is an error. */
export function expand(text: string, env: NodeJS.ProcessEnv, where: string): string {
  if (!text.includes("${")) return text;
  return text.replace(VAR, (_m, name: string, fallback: string | undefined) => {
    const value = env[name];
    if (value !== undefined && value !== "") return value;
    if (fallback !== undefined) return fallback;
    throw new TaifengError("invalid_config", `${where}: environment variable ${name} is not set`);
  });
}

/** Options for `loadMcpConfig`. */
export interface LoadMcpConfigOptions {
  /** The project folder holding `.mcp.json`. Default `process.cwd()`. */
  readonly cwd?: string;
  /**
   * Load the project's `.mcp.json`. A project file can start programs on this machine, so it
   * is read only from a folder the user trusts. Default false.
   */
  readonly trusted?: boolean;
  /** The user's config folder (`~/.taifeng`), holding `mcp.json`. `false` skips it. */
  readonly userDir?: string | false;
  /** Servers from the host (code or CLI); they win over files with the same name. */
  readonly servers?: Readonly<Record<string, unknown>>;
  /** Extra `.mcp.json`-shaped files (e.g. `--mcp-config`), read after the user and project files. */
  readonly files?: readonly string[];
  /** Environment for `${VAR}` expansion. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

/** The result of loading: servers by name, and where each came from. */
export interface McpConfig {
  readonly servers: readonly McpServerEntry[];
  /** Files that were read (missing ones are skipped silently). */
  readonly files: readonly string[];
  /** A project `.mcp.json` that exists but was not loaded because the folder is not trusted. */
  readonly skippedProjectFile?: string | undefined;
}

/**
 * Reads the user's `~/.taifeng/mcp.json`, the project's `.mcp.json` (trusted folders only),
 * extra files and the host's servers, later sources replacing earlier ones of the same name
 * (user < project < files < host). Throws TaifengError `invalid_config` for malformed content.
 */
export async function loadMcpConfig(options: LoadMcpConfigOptions = {}): Promise<McpConfig> {
  const env = options.env ?? process.env;
  const cwd = resolve(options.cwd ?? process.cwd());
  const byName = new Map<string, McpServerEntry>();
  const files: string[] = [];
  const add = (entries: McpServerEntry[]) => {
    for (const e of entries) byName.set(e.name, e);
  };
  const userDir = options.userDir === undefined ? join(env.HOME ?? homedir(), ".taifeng") : options.userDir;
  if (userDir !== false) {
    const file = join(userDir, "mcp.json");
    const raw = await readJson(file);
    if (raw !== undefined) {
      files.push(file);
      add(parseMcpFile(raw, file, env, { scope: "user", file }));
    }
  }
  const projectFile = join(cwd, ".mcp.json");
  let skippedProjectFile: string | undefined;
  if (options.trusted === true) {
    const raw = await readJson(projectFile);
    if (raw !== undefined) {
      files.push(projectFile);
      add(parseMcpFile(raw, projectFile, env, { scope: "project", file: projectFile }));
    }
  } else if ((await readJson(projectFile).catch(() => null)) !== undefined) {
    skippedProjectFile = projectFile;
  }
  for (const f of options.files ?? []) {
    const file = resolve(cwd, f);
    const raw = await readJson(file);
    if (raw === undefined) throw new TaifengError("invalid_config", `${file}: no such file`);
    files.push(file);
    add(parseMcpFile(raw, file, env, { scope: "host", file }));
  }
  if (options.servers)
    add(
      parseMcpServers(options.servers, "MCP server options", {
        env,
        baseDir: cwd,
        source: { scope: "host" },
      }),
    );
  return { servers: [...byName.values()], files, skippedProjectFile };
}

/** Parses a whole `.mcp.json` document (`{ "mcpServers": { ... } }`). */
export function parseMcpFile(
  raw: unknown,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  source: McpServerSource = { scope: "host", file },
): McpServerEntry[] {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new TaifengError("invalid_config", `${file}: must be a JSON object with "mcpServers"`);
  const extra = Object.keys(raw).filter((k) => k !== "mcpServers");
  if (extra.length > 0)
    throw new TaifengError(
      "invalid_config",
      `${file}: unknown key${extra.length > 1 ? "s" : ""} ${extra.map((k) => `"${k}"`).join(", ")} (expected only "mcpServers")`,
    );
  const servers = (raw as { mcpServers?: unknown }).mcpServers;
  if (servers === undefined) throw new TaifengError("invalid_config", `${file}: missing "mcpServers"`);
  return parseMcpServers(servers, file, { env, baseDir: join(file, ".."), source });
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new TaifengError("invalid_config", `${file}: cannot be read: ${describeError(err)}`, {
      cause: err,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new TaifengError("invalid_config", `${file}: is not valid JSON: ${describeError(err)}`, {
      cause: err,
    });
  }
}
