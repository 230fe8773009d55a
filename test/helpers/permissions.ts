import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PermissionDecision } from "../../src/permission/evaluate.ts";
import { RULE_IDENTITIES, type ToolFacts } from "../../src/permission/identity.ts";
import type { PermissionMode } from "../../src/permission/modes.ts";
import { PermissionPolicy } from "../../src/permission/policy.ts";
import type { PermissionSettings, SettingsLayer } from "../../src/permission/settings.ts";

/** A temporary directory tree for permission tests: `root/home`, `root/project`, `root/outside`. */
export interface Sandbox {
  readonly root: string;
  readonly home: string;
  readonly project: string;
  readonly outside: string;
  cleanup(): Promise<void>;
}

/** Creates a sandbox with real (symlink-free) paths. */
export async function sandbox(): Promise<Sandbox> {
  const root = await realpath(await mkdtemp(join(tmpdir(), "taifeng-perm-")));
  const { mkdir } = await import("node:fs/promises");
  const home = join(root, "home");
  const project = join(root, "project");
  const outside = join(root, "outside");
  await Promise.all([mkdir(home), mkdir(project), mkdir(outside)]);
  return { root, home, project, outside, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** Settings per source, as in settings files. */
export type Layers = Partial<Record<SettingsLayer["source"], PermissionSettings>>;

/** A policy over in-memory layers (no files read). */
export function policyOf(
  box: Sandbox,
  layers: Layers,
  options: {
    mode?: PermissionMode;
    commandCheck?: ConstructorParameters<typeof PermissionPolicy>[0]["commandCheck"];
  } = {},
): PermissionPolicy {
  return new PermissionPolicy({
    layers: Object.entries(layers).map(([source, permissions]) => ({
      source: source as SettingsLayer["source"],
      path: `${source}.json`,
      permissions: permissions ?? {},
      hooks: undefined,
    })),
    projectRoot: box.project,
    home: box.home,
    mode: options.mode,
    commandCheck: options.commandCheck,
  });
}

/** Tool facts for a rule name (`Bash`, `Read`...) or a plain tool name. */
export function toolFacts(name: string, readOnly = name === "Read" || name === "WebFetch"): ToolFacts {
  const permission = RULE_IDENTITIES[name];
  return permission ? { name, readOnly, permission } : { name, readOnly };
}

/** Evaluates a call and returns the decision. */
export function check(
  policy: PermissionPolicy,
  tool: string | ToolFacts,
  input: unknown,
  cwd: string,
  mode?: PermissionMode,
): Promise<PermissionDecision> {
  const facts = typeof tool === "string" ? toolFacts(tool) : tool;
  return policy.evaluate({ tool: facts, input, cwd, mode });
}
