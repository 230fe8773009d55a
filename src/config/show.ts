/** `taifeng config show`: the effective configuration, each value with its source, secrets masked. */
import { createRedactor } from "../redact/redactor.ts";
import type { LoadedConfig } from "./load.ts";

/** One effective value. */
export interface ConfigEntry {
  readonly path: string;
  /** The value, with anything secret-looking masked. */
  readonly value: unknown;
  /** The file it came from, `flag`, or `default`. */
  readonly source: string;
  /** For variable-name values (`apiKeyEnv`, `tokens`): whether each variable is set. Never the value. */
  readonly set?: boolean | readonly boolean[];
}

/**
 * Flattens the effective configuration into entries (sorted by path). Values pass through a
 * redactor built from `env`, so a secret that reached a value by any path is masked; values
 * that name environment variables report whether the variable is set, never its content.
 */
export function configEntries(
  loaded: LoadedConfig,
  env: Readonly<Record<string, string | undefined>>,
): ConfigEntry[] {
  const redactor = createRedactor({ env });
  const out: ConfigEntry[] = [];
  const isSet = (name: unknown) => typeof name === "string" && (env[name] ?? "") !== "";
  for (const [path, source] of Object.entries(loaded.sources)) {
    if (path.split(".").length === 2 && (path.startsWith("mcpServers.") || path.startsWith("providers."))) {
      const [root, name] = path.split(".") as [string, string];
      const entry = (loaded.config as Record<string, Record<string, unknown>>)[root]?.[name];
      out.push({ path, value: redactor.redactValue(entry), source });
      continue;
    }
    if (path === "mcpServers" || path === "providers") continue;
    const value = path
      .split(".")
      .reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], loaded.config);
    const entry: ConfigEntry = { path, value: redactor.redactValue(value), source };
    if (path === "server.tokens" && Array.isArray(value)) out.push({ ...entry, set: value.map(isSet) });
    else out.push(entry);
  }
  for (const [name, p] of Object.entries(loaded.config.providers ?? {})) {
    if (p.apiKeyEnv !== undefined)
      out.push({
        path: `providers.${name}.apiKeyEnv (set)`,
        value: isSet(p.apiKeyEnv),
        source: "environment",
      });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** The entries as aligned text lines: `path = value   # source`. */
export function formatConfig(entries: readonly ConfigEntry[], files: readonly string[]): string {
  const lines: string[] = [];
  lines.push(
    files.length === 0
      ? "# no configuration file found; defaults apply"
      : `# files (lowest precedence first): ${files.join(", ")}`,
  );
  const width = Math.max(0, ...entries.map((e) => e.path.length));
  for (const e of entries) {
    const set =
      e.set === undefined
        ? ""
        : ` (${Array.isArray(e.set) ? e.set.map((s) => (s ? "set" : "unset")).join(", ") : e.set ? "set" : "unset"})`;
    lines.push(`${e.path.padEnd(width)} = ${JSON.stringify(e.value)}${set}   # ${e.source}`);
  }
  return `${lines.join("\n")}\n`;
}
