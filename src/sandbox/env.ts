/**
 * The environment of every subprocess the runtime starts (the bash tool and its background
 * tasks, skill scripts, shell hooks, MCP stdio servers): built from an allowlist, never from
 * the whole parent environment. A secret in the host's environment (`OPENAI_API_KEY`,
 * `DATABASE_URL`, `GH_PAT`, a webhook URL) reaches a child only when the host names it.
 */

/** Names every subprocess gets from the parent when they are set. `LC_*` is matched by prefix. */
export const BASE_ENV_NAMES: readonly string[] = ["PATH", "HOME", "LANG", "TERM", "TMPDIR", "USER", "SHELL"];

/**
 * The parent variable in which a host declares extra names to pass through, comma- or
 * space-separated (`TAIFENG_ENV_PASSTHROUGH="NPM_CONFIG_REGISTRY,HTTP_PROXY"`). A name ending
 * in `*` passes every variable with that prefix.
 */
export const PASSTHROUGH_VARIABLE = "TAIFENG_ENV_PASSTHROUGH";

/** Options for `subprocessEnv`. */
export interface SubprocessEnvOptions {
  /** The environment names are picked from. Default `process.env`. */
  readonly from?: Readonly<Record<string, string | undefined>>;
  /**
   * Extra names to pass through from `from`, declared by the host or the project (a trailing
   * `*` matches a prefix). Added to the base names and to those in `TAIFENG_ENV_PASSTHROUGH`.
   */
  readonly passthrough?: readonly string[];
  /** Variables set explicitly; they win over anything passed through. */
  readonly set?: Readonly<Record<string, string | undefined>>;
}

/** Splits a passthrough declaration (`A,B C`) into names. */
export function parsePassthrough(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(/[\s,]+/).filter((name) => name !== "");
}

function matcher(names: readonly string[]): (name: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const name of names) {
    if (name.endsWith("*")) {
      // A bare `*` would hand over the whole environment: that is never what an allowlist means.
      if (name.length > 1) prefixes.push(name.slice(0, -1));
    } else exact.add(name);
  }
  return (name) => exact.has(name) || prefixes.some((p) => name.startsWith(p));
}

/**
 * The environment for a subprocess: `PATH`, `HOME`, `LANG`, `LC_*`, `TERM`, `TMPDIR`, `USER`
 * and `SHELL` from `from` (default `process.env`), plus the names declared in
 * `passthrough` and in the parent's `TAIFENG_ENV_PASSTHROUGH`, then `set` laid over them (an
 * `undefined` value in `set` removes the name). Nothing else of the parent's environment is
 * copied. Every spawner in the runtime builds its environment here.
 */
export function subprocessEnv(options: SubprocessEnvOptions = {}): Record<string, string> {
  const from = options.from ?? process.env;
  const wanted = matcher([
    ...BASE_ENV_NAMES,
    "LC_*",
    ...parsePassthrough(from[PASSTHROUGH_VARIABLE]),
    ...(options.passthrough ?? []),
  ]);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) {
    if (value !== undefined && wanted(name)) out[name] = value;
  }
  for (const [name, value] of Object.entries(options.set ?? {})) {
    if (value === undefined) delete out[name];
    else out[name] = value;
  }
  return out;
}
