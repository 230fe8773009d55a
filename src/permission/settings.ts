import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { unknownKeys } from "../config-keys.ts";
import { TaifengError } from "../errors.ts";
import { hooksFromSettings } from "../hooks/settings.ts";
import { readJsonFile } from "../json-file.ts";
import { PermissionMode } from "./modes.ts";
import type { RuleSource } from "./rules.ts";
import { inspectTrust, type ProjectTrustOption } from "./trust.ts";

/** The keys of a settings file's `permissions` object (Claude Code's, all honoured). */
export const PERMISSION_KEYS = [
  "allow",
  "deny",
  "ask",
  "defaultMode",
  "additionalDirectories",
  "disableBypassPermissionsMode",
] as const;

/** The `permissions` object of a settings file. Unknown keys are errors (see `readSettingsFile`). */
export const PermissionSettings = z.strictObject({
  allow: z.array(z.string()).optional(),
  deny: z.array(z.string()).optional(),
  ask: z.array(z.string()).optional(),
  defaultMode: PermissionMode.optional(),
  /** More directories reads (and, under acceptEdits, edits) are allowed in by default. */
  additionalDirectories: z.array(z.string()).optional(),
  /** `"disable"` refuses bypassPermissions mode; meant for managed settings. */
  disableBypassPermissionsMode: z.literal("disable").optional(),
});
export type PermissionSettings = z.infer<typeof PermissionSettings>;

/** Top-level keys Taifeng reads from a settings file. */
export const SETTINGS_KEYS = ["$schema", "permissions", "hooks", "disableAllHooks"] as const;

/**
 * Claude Code settings keys that are accepted and ignored, so one settings file can serve
 * both tools: none of them loosens a restriction when ignored (`apiKeyHelper` and the other
 * helpers would run commands; Taifeng never runs them).
 */
export const IGNORED_CLAUDE_CODE_KEYS: readonly string[] = [
  "env",
  "model",
  "statusLine",
  "subagentStatusLine",
  "outputStyle",
  "theme",
  "verbose",
  "cleanupPeriodDays",
  "includeCoAuthoredBy",
  "spinnerTipsEnabled",
  "alwaysThinkingEnabled",
  "autoUpdates",
  "preferredNotifChannel",
  "apiKeyHelper",
  "awsAuthRefresh",
  "awsCredentialExport",
  "otelHeadersHelper",
  "forceLoginMethod",
  "forceLoginOrgUUID",
  "companyAnnouncements",
  "feedbackSurveyState",
  "enabledPlugins",
  "extraKnownMarketplaces",
  "enableAllProjectMcpServers",
  "enabledMcpjsonServers",
];

/**
 * Claude Code settings keys that are errors: each restricts something Taifeng does not
 * configure this way, so ignoring it would silently weaken what the file's author asked for.
 */
export const REJECTED_CLAUDE_CODE_KEYS: Readonly<Record<string, string>> = {
  sandbox: "Taifeng's sandbox is chosen by the host or with taifeng run --sandbox, not in settings",
  disabledMcpjsonServers: "Taifeng does not read this list; remove the servers from .mcp.json instead",
};

/** A settings file: `{ "permissions": {...}, "hooks": {...} }` plus ignored Claude Code keys. */
export const SettingsFile = z.looseObject({
  $schema: z.string().optional(),
  permissions: PermissionSettings.optional(),
  hooks: z.unknown().optional(),
  /** `true` turns off every hook the settings files define. */
  disableAllHooks: z.boolean().optional(),
});
export type SettingsFile = z.infer<typeof SettingsFile>;

/** One source of settings. */
export interface SettingsLayer {
  readonly source: Exclude<RuleSource, "session">;
  /** The file it was read from; undefined for rules given in code or on the command line. */
  readonly path: string | undefined;
  readonly permissions: PermissionSettings;
  /** The raw `hooks` object, validated by the hooks module when used. */
  readonly hooks: unknown;
  /** The file turns off every settings-file hook. */
  readonly disableAllHooks?: boolean | undefined;
}

/** Where to look for settings. */
export interface DiscoverOptions {
  readonly cwd: string;
  /** Environment for `HOME` and `TAIFENG_MANAGED_SETTINGS`. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Overrides the home directory. */
  readonly home?: string;
  /** Overrides the project root (default: the nearest ancestor of `cwd` holding `.taifeng/`). */
  readonly projectRoot?: string;
  /** Overrides the managed settings file (which must then exist). */
  readonly managedPath?: string;
  /** Extra settings files at command-line precedence (`--settings FILE`). */
  readonly extraFiles?: readonly string[];
  /**
   * Whether the project's own files (`.taifeng/settings.json`, `.taifeng/settings.local.json`)
   * may widen permissions or run hooks. Untrusted, they still restrict: deny and ask rules,
   * a stricter mode and `disableBypassPermissionsMode` apply; allow rules, a permissive
   * `defaultMode` (acceptEdits, bypassPermissions), `additionalDirectories` and hooks do not.
   * Default `"remembered"`: trusted when the user trusted the folder with its current files.
   */
  readonly projectTrust?: ProjectTrustOption;
}

/** What trust decided about the project's settings. */
export interface SettingsTrust {
  /** The project's widening settings apply. */
  readonly trusted: boolean;
  /** What was not applied because the folder is not trusted (empty when trusted or nothing was). */
  readonly withheld: readonly string[];
  /** Set when a remembered grant no longer matches the files (they changed since). */
  readonly changed: boolean;
}

/** Every settings layer found, highest precedence first. */
export interface DiscoveredSettings {
  readonly projectRoot: string;
  readonly home: string;
  /** The layers as they apply (an untrusted project's layers restrict only). */
  readonly layers: SettingsLayer[];
  readonly trust: SettingsTrust;
}

/** The managed settings file unless `TAIFENG_MANAGED_SETTINGS` names another. */
export const DEFAULT_MANAGED_SETTINGS = "/etc/taifeng/managed-settings.json";

/**
 * Finds and reads the settings files: managed (`/etc/taifeng/managed-settings.json` or
 * `$TAIFENG_MANAGED_SETTINGS`), extra files, `<project>/.taifeng/settings.local.json`,
 * `<project>/.taifeng/settings.json` and `~/.taifeng/settings.json`, then applies project
 * trust (see `DiscoverOptions.projectTrust`). The default managed file and the project and
 * user files may be missing; a file named explicitly (`TAIFENG_MANAGED_SETTINGS`,
 * `managedPath`, `extraFiles`) must exist. Throws TaifengError `invalid_config` naming the
 * file for a missing named file, an unreadable or malformed one, or an unknown key.
 */
export async function discoverSettings(options: DiscoverOptions): Promise<DiscoveredSettings> {
  const env = options.env ?? process.env;
  const home = homeOf(options);
  const cwd = resolve(options.cwd);
  const projectRoot = resolve(options.projectRoot ?? (await findProjectRoot(cwd, home)));
  const named = options.managedPath ?? env.TAIFENG_MANAGED_SETTINGS;
  const candidates: { source: SettingsLayer["source"]; path: string; required: boolean }[] = [
    {
      source: "managed",
      path: resolve(cwd, named ?? DEFAULT_MANAGED_SETTINGS),
      required: named !== undefined,
    },
    ...(options.extraFiles ?? []).map((path) => ({
      source: "cli" as const,
      path: resolve(cwd, path),
      required: true,
    })),
    { source: "local", path: join(projectRoot, ".taifeng", "settings.local.json"), required: false },
    { source: "project", path: join(projectRoot, ".taifeng", "settings.json"), required: false },
    { source: "user", path: join(home, ".taifeng", "settings.json"), required: false },
  ];
  const layers: SettingsLayer[] = [];
  const seen = new Set<string>();
  for (const candidate of candidates) {
    if (seen.has(candidate.path)) continue;
    seen.add(candidate.path);
    const file = await readSettingsFile(candidate.path, candidate.required);
    if (file) {
      layers.push({
        source: candidate.source,
        path: candidate.path,
        permissions: file.permissions ?? {},
        hooks: file.hooks,
        disableAllHooks: file.disableAllHooks,
      });
    }
  }
  return applyProjectTrust({ projectRoot, home, layers }, options.projectTrust ?? "remembered");
}

/** The layers a folder's trust governs: the project's own files. */
export function isProjectLayer(layer: SettingsLayer): boolean {
  return layer.source === "project" || layer.source === "local";
}

const PERMISSIVE_MODES = new Set<PermissionMode>(["acceptEdits", "bypassPermissions"]);

/** What a project layer would widen or run, in words (empty when it only restricts). */
export function wideningOf(layer: SettingsLayer): string[] {
  const p = layer.permissions;
  const out: string[] = [];
  if (p.allow && p.allow.length > 0)
    out.push(`allow rules (${p.allow.slice(0, 3).join(", ")}${p.allow.length > 3 ? ", ..." : ""})`);
  if (p.defaultMode !== undefined && PERMISSIVE_MODES.has(p.defaultMode))
    out.push(`defaultMode ${p.defaultMode}`);
  if (p.additionalDirectories && p.additionalDirectories.length > 0)
    out.push(`additionalDirectories (${p.additionalDirectories.join(", ")})`);
  const hooks = countHooks(layer.hooks);
  if (hooks > 0) out.push(`${hooks} hook command${hooks === 1 ? "" : "s"}`);
  return out;
}

/** The part of a project layer that applies without trust: deny and ask rules, stricter modes. */
export function restrictingPart(layer: SettingsLayer): SettingsLayer {
  const p = layer.permissions;
  const permissions: { -readonly [K in keyof PermissionSettings]: PermissionSettings[K] } = {};
  if (p.deny) permissions.deny = p.deny;
  if (p.ask) permissions.ask = p.ask;
  if (p.defaultMode !== undefined && !PERMISSIVE_MODES.has(p.defaultMode))
    permissions.defaultMode = p.defaultMode;
  if (p.disableBypassPermissionsMode)
    permissions.disableBypassPermissionsMode = p.disableBypassPermissionsMode;
  return { ...layer, permissions, hooks: undefined };
}

/**
 * Applies a trust decision to discovered layers: trusted (or nothing to widen), the layers
 * stay as they are; untrusted, project layers keep only what restricts, and `withheld` says
 * what was left out, per file.
 */
export async function applyProjectTrust(
  found: { projectRoot: string; home: string; layers: SettingsLayer[] },
  option: ProjectTrustOption,
): Promise<DiscoveredSettings> {
  const widening = found.layers.filter(isProjectLayer).map((l) => ({ layer: l, what: wideningOf(l) }));
  const wanted = widening.filter((w) => w.what.length > 0);
  if (wanted.length === 0) return { ...found, trust: { trusted: true, withheld: [], changed: false } };
  if (option === true) return { ...found, trust: { trusted: true, withheld: [], changed: false } };
  // Looked up even when the host said no, so the notice can say the files changed since.
  const inspection = await inspectTrust(found.projectRoot, found.home);
  if (option === "remembered" && inspection.remembered)
    return { ...found, trust: { trusted: true, withheld: [], changed: false } };
  const changed = inspection.changed;
  const withheld = wanted.map((w) => `${w.layer.path}: ${w.what.join("; ")}`);
  const layers = found.layers.map((l) => (isProjectLayer(l) ? restrictingPart(l) : l));
  return { ...found, layers, trust: { trusted: false, withheld, changed } };
}

/**
 * The one message an untrusted project deserves, or undefined when nothing was withheld:
 * which folder, what was not applied, and how to trust it.
 */
export function untrustedNotice(
  found: Pick<DiscoveredSettings, "projectRoot" | "trust">,
): string | undefined {
  if (found.trust.trusted || found.trust.withheld.length === 0) return undefined;
  const why = found.trust.changed ? "its settings changed since you trusted it" : "it is not trusted";
  return `project settings not applied: ${found.projectRoot} ${why}, so only its deny and ask rules apply. Not applied: ${found.trust.withheld.join(" | ")}. Review them, then trust the folder (taifeng run asks at a terminal, or takes --trust; a host passes permissions.settings.projectTrust).`;
}

function countHooks(raw: unknown): number {
  if (typeof raw !== "object" || raw === null) return 0;
  let n = 0;
  for (const groups of Object.values(raw as Record<string, unknown>)) {
    if (!Array.isArray(groups)) continue;
    for (const group of groups) {
      const hooks = (group as { hooks?: unknown } | null)?.hooks;
      if (Array.isArray(hooks)) n += hooks.length;
    }
  }
  return n;
}

/** The home directory discovery uses: `home`, else `HOME` from `env`, else the OS's. */
export function homeOf(options: Pick<DiscoverOptions, "home" | "env">): string {
  return resolve(options.home ?? (options.env ?? process.env).HOME ?? homedir());
}

/**
 * Reads one settings file; undefined when it does not exist (unless `required`). Every key
 * is checked: Taifeng's own, then Claude Code's ignored ones (`IGNORED_CLAUDE_CODE_KEYS`);
 * anything else is an error that suggests the closest known key. The `hooks` object is
 * checked the same way. Throws TaifengError `invalid_config` naming the file and the field.
 */
export async function readSettingsFile(path: string, required = false): Promise<SettingsFile | undefined> {
  const file = await readJsonFile(path, {
    code: "invalid_config",
    label: "settings file",
    optional: !required,
  });
  if (!file) return undefined;
  const value = file.value;
  const fail = (detail: string): never => {
    throw new TaifengError("invalid_config", `settings file ${path}: ${detail}`);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return fail("expected a JSON object at the top level");
  const record = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(record)) {
    const rejected = REJECTED_CLAUDE_CODE_KEYS[key];
    if (rejected !== undefined) problems.push(`"${key}" is not supported: ${rejected}`);
  }
  const known = [...SETTINGS_KEYS, ...IGNORED_CLAUDE_CODE_KEYS, ...Object.keys(REJECTED_CLAUDE_CODE_KEYS)];
  problems.push(...unknownKeys(record, known, ""));
  const permissions = record.permissions;
  if (typeof permissions === "object" && permissions !== null && !Array.isArray(permissions))
    problems.push(...unknownKeys(permissions as Record<string, unknown>, PERMISSION_KEYS, "permissions"));
  if (problems.length > 0) fail(problems.join("; "));
  const parsed = SettingsFile.safeParse(value);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`)
      .join("; ");
    return fail(detail);
  }
  // Hooks are checked whether or not this engine runs them: a typo must never pass quietly.
  hooksFromSettings(parsed.data.hooks, `settings file ${path}`);
  return parsed.data;
}

/**
 * The project root for `cwd`: the nearest ancestor (itself included) holding a `.taifeng`
 * directory, other than the home directory (whose `.taifeng` holds user settings); `cwd`
 * when there is none.
 */
export async function findProjectRoot(cwd: string, home: string): Promise<string> {
  let dir = resolve(cwd);
  for (;;) {
    if (dir !== home && (await isDirectory(join(dir, ".taifeng")))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(cwd);
    dir = parent;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
