import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { TaifengError } from "../errors.ts";
import { readJsonFile } from "../json-file.ts";
import { PermissionMode } from "./modes.ts";
import type { RuleSource } from "./rules.ts";

/** The `permissions` object of a settings file (other keys are kept for other readers). */
export const PermissionSettings = z.looseObject({
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

/** A settings file: `{ "permissions": {...}, "hooks": {...} }`. Unknown keys are ignored. */
export const SettingsFile = z.looseObject({
  permissions: PermissionSettings.optional(),
  hooks: z.unknown().optional(),
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
  /** Overrides the managed settings file. */
  readonly managedPath?: string;
  /** Extra settings files at command-line precedence (`--settings FILE`). */
  readonly extraFiles?: readonly string[];
}

/** Every settings layer found, highest precedence first. */
export interface DiscoveredSettings {
  readonly projectRoot: string;
  readonly home: string;
  readonly layers: SettingsLayer[];
}

/** The managed settings file unless `TAIFENG_MANAGED_SETTINGS` names another. */
export const DEFAULT_MANAGED_SETTINGS = "/etc/taifeng/managed-settings.json";

/**
 * Finds and reads the settings files: managed (`/etc/taifeng/managed-settings.json` or
 * `$TAIFENG_MANAGED_SETTINGS`), extra files, `<project>/.taifeng/settings.local.json`,
 * `<project>/.taifeng/settings.json` and `~/.taifeng/settings.json`. Missing files are
 * skipped. Throws TaifengError `invalid_config` naming the file for unreadable or
 * malformed ones.
 */
export async function discoverSettings(options: DiscoverOptions): Promise<DiscoveredSettings> {
  const env = options.env ?? process.env;
  const home = homeOf(options);
  const cwd = resolve(options.cwd);
  const projectRoot = resolve(options.projectRoot ?? (await findProjectRoot(cwd, home)));
  const managed = options.managedPath ?? env.TAIFENG_MANAGED_SETTINGS ?? DEFAULT_MANAGED_SETTINGS;
  const candidates: { source: SettingsLayer["source"]; path: string }[] = [
    { source: "managed", path: resolve(cwd, managed) },
    ...(options.extraFiles ?? []).map((path) => ({ source: "cli" as const, path: resolve(cwd, path) })),
    { source: "local", path: join(projectRoot, ".taifeng", "settings.local.json") },
    { source: "project", path: join(projectRoot, ".taifeng", "settings.json") },
    { source: "user", path: join(home, ".taifeng", "settings.json") },
  ];
  const layers: SettingsLayer[] = [];
  const seen = new Set<string>();
  for (const candidate of candidates) {
    if (seen.has(candidate.path)) continue;
    seen.add(candidate.path);
    const required = candidate.source === "cli";
    const file = await readSettingsFile(candidate.path, required);
    if (file) {
      layers.push({
        source: candidate.source,
        path: candidate.path,
        permissions: file.permissions ?? {},
        hooks: file.hooks,
      });
    }
  }
  return { projectRoot, home, layers };
}

/** The home directory discovery uses: `home`, else `HOME` from `env`, else the OS's. */
export function homeOf(options: Pick<DiscoverOptions, "home" | "env">): string {
  return resolve(options.home ?? (options.env ?? process.env).HOME ?? homedir());
}

/**
 * Reads one settings file; undefined when it does not exist (unless `required`).
 * Throws TaifengError `invalid_config` naming the file and the bad field.
 */
export async function readSettingsFile(path: string, required = false): Promise<SettingsFile | undefined> {
  const file = await readJsonFile(path, {
    code: "invalid_config",
    label: "settings file",
    optional: !required,
  });
  if (!file) return undefined;
  const value = file.value;
  const parsed = SettingsFile.safeParse(value);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`)
      .join("; ");
    throw new TaifengError("invalid_config", `settings file ${path}: ${detail}`);
  }
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
