import type { CanUseTool } from "./approval.ts";
import type { CommandCheck } from "./evaluate.ts";
import type { PermissionMode } from "./modes.ts";
import type { PermissionPolicy } from "./policy.ts";
import type { RuleLists } from "./rules.ts";
import type { DiscoverOptions } from "./settings.ts";

/**
 * `EngineOptions.permissions`: what may run, and who is asked. Without it the engine runs
 * every tool call (the host vouches for its tools).
 */
export interface PermissionOptions {
  /** The mode (overrides settings' `defaultMode`). Default: settings, else `default`. */
  readonly mode?: PermissionMode;
  /** Rules given in code, at command-line precedence. */
  readonly rules?: RuleLists;
  /**
   * Read settings files too: `true` discovers them from the engine's cwd and `HOME`
   * (user, project, local, managed); an object tunes discovery. Default `false`: an
   * embedded engine reads no files unless asked.
   */
  readonly settings?: boolean | Omit<DiscoverOptions, "cwd">;
  /**
   * A prepared policy; replaces `mode`, `rules`, `settings` and `commandCheck`. Each engine
   * works on its own copy (`forSession`), so session rules stay per engine — the way to
   * share one set of settings across an EnginePool without reading files per session.
   */
  readonly policy?: PermissionPolicy;
  /** Decides in code what would be asked of a person. */
  readonly canUseTool?: CanUseTool;
  /** Runs on every Bash command before the rules (command defense). */
  readonly commandCheck?: CommandCheck;
  /** How long a request waits for an `approval` op before it is denied; 0 (default) = no limit. */
  readonly approvalTimeoutMs?: number;
  /**
   * `false` when nobody can answer approval requests (a batch job, a CLI without a terminal):
   * calls that would ask are denied at once. Default `true`.
   */
  readonly interactive?: boolean;
}
