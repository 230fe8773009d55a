import type { HookDefinition } from "./types.ts";

/** `EngineOptions.hooks`: lifecycle hooks of an engine. */
export interface HookOptions {
  /** In-process and shell-command hooks, run in this order at each point. */
  readonly hooks?: readonly HookDefinition[];
  /**
   * Also run the shell hooks of the settings files' `hooks` objects (discovered like
   * permission settings). Default `false`: a settings file never runs commands unless asked.
   */
  readonly fromSettings?: boolean;
  /** Timeout of hooks that set none, in ms. Default 60000. */
  readonly defaultTimeoutMs?: number;
  /** Write every tool call to this JSONL file (the built-in audit hook). */
  readonly auditPath?: string;
  /**
   * Parent environment variables shell hooks may see, beside the allowlist every subprocess
   * gets (see `subprocessEnv`). A trailing `*` matches a prefix. Default: none.
   */
  readonly envPassthrough?: readonly string[];
}
