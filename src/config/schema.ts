/**
 * The one configuration file (`taifeng.config.json` / `.yaml`): its zod schema. Every object
 * is strict, so an unknown key is an error that names the file, line and key. Secrets never
 * live in the file: providers and server tokens name environment variables.
 */
import { z } from "zod";

/** An environment variable name (`OPENAI_API_KEY`), never its value. */
export const EnvVarName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name such as MY_API_KEY, not a value");

/** How to reach one provider: the variable holding its key, and an optional base URL. */
export const ProviderConfig = z.strictObject({
  /** Name of the environment variable holding the API key. */
  apiKeyEnv: EnvVarName.optional(),
  /** Base URL passed to the provider SDK (OpenAI-compatible servers, proxies). */
  baseUrl: z.string().url().optional(),
});
export type ProviderConfig = z.infer<typeof ProviderConfig>;

/** Where transcripts live. */
export const StorageConfig = z.strictObject({
  /** Folder of the JSONL thread store (relative paths resolve against the file's folder). */
  dir: z.string().min(1).optional(),
  /** `turn` (default), `item` or `none`: see the persistence guide. */
  durability: z.enum(["turn", "item", "none"]).optional(),
});

/** Permission settings applied at command-line precedence. */
export const PermissionsConfig = z.strictObject({
  mode: z.enum(["default", "acceptEdits", "plan", "dontAsk", "bypassPermissions"]).optional(),
  allow: z.array(z.string().min(1)).optional(),
  deny: z.array(z.string().min(1)).optional(),
  ask: z.array(z.string().min(1)).optional(),
});

/** Hooks: whether the settings files' hooks run. */
export const HooksConfig = z.strictObject({
  /** Run the hooks of `.taifeng/settings.json` files (project hooks only in trusted folders). Default true. */
  fromSettings: z.boolean().optional(),
});

/** Skill folders searched besides the project's and the user's. */
export const SkillsConfig = z.strictObject({ dirs: z.array(z.string().min(1)).optional() });

/** Telemetry switches (the exporters themselves are configured by the OTEL_* variables). */
export const TelemetryConfig = z.strictObject({
  otel: z.boolean().optional(),
  /** Record prompts and answers in spans (redacted). */
  otelContent: z.boolean().optional(),
});

/** `taifeng serve`. */
export const ServerConfig = z.strictObject({
  /** Interface to bind. Default 127.0.0.1; any other needs at least one token. */
  host: z.string().min(1).optional(),
  /** TCP port. Default 4319; 0 picks a free one. */
  port: z.number().int().min(0).max(65535).optional(),
  /** Names of environment variables whose values are accepted bearer tokens. */
  tokens: z.array(EnvVarName).optional(),
  /** Origins allowed by CORS. Default none (CORS off). */
  corsOrigins: z.array(z.string().url()).optional(),
  /** Largest request body in bytes. Default 1 MiB. */
  maxBodyBytes: z.number().int().positive().optional(),
  /** Requests per minute per token (or per address without auth). Default 600. */
  rateLimitPerMinute: z.number().int().positive().optional(),
  /** Longest graceful shutdown waits for running turns before interrupting them, in ms. Default 30,000. */
  drainMs: z.number().int().nonnegative().optional(),
  /**
   * An engine that has waited on a person this long, unwatched, leaves memory (its request
   * stays in the inbox; an answer, a message or a viewer reopens it), in ms. Default 60,000;
   * -1 keeps such engines in memory.
   */
  evictSuspendedMs: z.number().int().min(-1).optional(),
});
export type ServerConfig = z.infer<typeof ServerConfig>;

/**
 * Where `taifeng run` / `taifeng worker` send work (docs/guides/distributed.md). The Redis and
 * PostgreSQL URLs come from REDIS_URL / DATABASE_URL (they may carry passwords), never from here.
 */
export const BackendConfig = z.strictObject({
  /** `inline` (the default: this process runs the turn) or `bullmq` (a worker runs it). */
  type: z.enum(["inline", "bullmq"]).optional(),
  /** BullMQ queue name, shared by submitters and workers. Default `taifeng`. */
  queue: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
  /** Redis key prefix. Default `taifeng`. */
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
  /** PostgreSQL schema of the thread store. Default `taifeng`. */
  schema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/)
    .optional(),
  /** Tool names a queued run's recipe names (resolved by the worker's registry). */
  tools: z.array(z.string().min(1)).optional(),
});

/** Engine and pool limits. */
export const LimitsConfig = z.strictObject({
  maxSteps: z.number().int().positive().optional(),
  maxEngines: z.number().int().positive().optional(),
  idleTimeoutMs: z.number().int().nonnegative().optional(),
  maxToolOutputChars: z.number().int().positive().optional(),
});

/** The whole file. */
export const TaifengConfig = z.strictObject({
  /** A `provider:model` spec (`sim:demo`, `openai:gpt-5-mini`). */
  model: z.string().min(1).optional(),
  /** Models tried in order when the main one fails with a retryable error. */
  fallbacks: z.array(z.string().min(1)).optional(),
  /** Per-provider settings, by provider name (`openai`, `anthropic`, ...). */
  providers: z
    .record(z.string().regex(/^[a-z][a-z0-9-]*$/, "provider names are lower-case"), ProviderConfig)
    .optional(),
  system: z.string().optional(),
  storage: StorageConfig.optional(),
  permissions: PermissionsConfig.optional(),
  hooks: HooksConfig.optional(),
  skills: SkillsConfig.optional(),
  /** MCP servers in the `.mcp.json` `mcpServers` shape (validated by the MCP loader). */
  mcpServers: z.record(z.string(), z.unknown()).optional(),
  telemetry: TelemetryConfig.optional(),
  server: ServerConfig.optional(),
  limits: LimitsConfig.optional(),
  backend: BackendConfig.optional(),
});
export type TaifengConfig = z.infer<typeof TaifengConfig>;

/**
 * Keys that would hold a secret. The file never carries one: such a key is an error that
 * says which variable-name key to use instead.
 */
export const SECRET_KEYS: Readonly<Record<string, string>> = {
  apiKey: "apiKeyEnv",
  api_key: "apiKeyEnv",
  key: "apiKeyEnv",
  token: "tokens (names of environment variables)",
  secret: "an environment variable",
  password: "an environment variable",
};
