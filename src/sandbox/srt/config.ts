import { readdirSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import type { SandboxRuntimeConfig } from "@anthropic-ai/sandbox-runtime";

/**
 * How a level-1 policy becomes a `@anthropic-ai/sandbox-runtime` configuration. Pure apart
 * from `findEnvFiles`, which looks at the disk, so the mapping can be checked anywhere.
 */

/** Paths under the home directory hidden at level 1 unless revealed. */
export const HOME_SECRETS: readonly string[] = [
  ".ssh",
  ".aws",
  ".config/gcloud",
  ".netrc",
  ".docker",
  ".kube",
  ".gnupg",
  ".git-credentials",
  ".config/gh",
  ".azure",
  ".pypirc",
];

/** System files hidden at level 1 (readable to root, and these machines often run as root). */
export const SYSTEM_SECRETS: readonly string[] = [
  "/etc/shadow",
  "/etc/shadow-",
  "/etc/gshadow",
  "/etc/gshadow-",
  "/etc/ssh/ssh_host_*_key",
];

/** What the level-1 engine needs to know about a policy (JSON: it crosses a process boundary). */
export interface Level1Spec {
  /**
   * Directory the helper runs in: the workspace root (the runtime scans it for files to
   * protect). With no writable path, the helper's own empty runtime directory.
   */
  readonly root: string;
  /** Writable paths (the workspace root first). */
  readonly writable: readonly string[];
  /** `false`: no network; `true`: any domain through the filtering proxy; a list: those domains only. */
  readonly network: boolean | readonly string[];
  /** Home directory whose secrets are hidden. */
  readonly home: string;
  /** Extra paths to hide (absolute, or globs). */
  readonly hide: readonly string[];
  /** Default-hidden paths to show after all. */
  readonly reveal: readonly string[];
  /** Directory the helper keeps its sockets in: readable inside so the proxy can be reached. */
  readonly runtimeDir: string;
  /**
   * The commands' temp directory: `/tmp` (a private tmpfs over the host's) on Linux;
   * elsewhere a directory of the helper's own, made writable.
   */
  readonly tmp: string;
  /** ripgrep executable the runtime scans with. */
  readonly ripgrep: string;
  /** bubblewrap executable, when not `bwrap` from PATH. */
  readonly bwrapPath?: string | undefined;
  /**
   * Code the helper runs (its own files, the node_modules it loads the runtime from): kept
   * read-only where a writable path covers it, or a command could rewrite what the next
   * helper runs outside the sandbox.
   */
  readonly protect?: readonly string[] | undefined;
  /**
   * What the runtime runs inside the sandbox from its own installation (its seccomp helper,
   * `vendor/`). On Linux the private `/tmp` would hide it when the installation lives under
   * `/tmp`, so it is shown again there, read-only.
   */
  readonly runtimeFiles?: readonly string[] | undefined;
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);
}

/** The paths hidden by default for `home`, minus `reveal`, plus `hide`. */
export function hiddenPaths(spec: Pick<Level1Spec, "home" | "hide" | "reveal">): string[] {
  const reveal = new Set(spec.reveal);
  const defaults = [...HOME_SECRETS.map((p) => join(spec.home, p)), ...SYSTEM_SECRETS];
  return [...defaults.filter((p) => !reveal.has(p)), ...spec.hide];
}

/**
 * The runtime configuration for a policy. On Linux `/tmp` is hidden behind an empty tmpfs
 * (the command's private, writable temp directory) with the helper's socket directory shown
 * again; elsewhere `tmp` is a writable directory of the helper's. The workspace, the
 * `writable` extras and `tmp` are the only host paths a command can write. The network is
 * always behind the runtime's filtering proxy.
 */
export function runtimeConfig(spec: Level1Spec): SandboxRuntimeConfig {
  const domains = typeof spec.network === "boolean" ? [] : [...spec.network];
  const denyWrite = (spec.protect ?? []).filter((p) => spec.writable.some((w) => within(p, w)));
  return {
    network: {
      allowedDomains: domains,
      deniedDomains: [],
      // A list is a policy, not a hint: hosts outside it are refused without asking.
      ...(spec.network === true ? {} : { strictAllowlist: true }),
    },
    filesystem:
      spec.tmp === "/tmp"
        ? {
            denyRead: ["/tmp", ...hiddenPaths(spec)],
            // Shown again over the private /tmp: the socket directory, and the runtime's own
            // files when the installation is under /tmp (read-only: allowWrite is separate).
            allowRead: [spec.runtimeDir, ...(spec.runtimeFiles ?? []).filter((p) => within(p, "/tmp"))],
            allowWrite: [...spec.writable],
            denyWrite,
          }
        : { denyRead: hiddenPaths(spec), allowWrite: [...spec.writable, spec.tmp], denyWrite },
    ripgrep: { command: spec.ripgrep },
    ...(spec.bwrapPath !== undefined ? { bwrapPath: spec.bwrapPath } : {}),
  };
}

const ENV_FILE = /^\.env(rc)?($|\.)/;
const ENV_TEMPLATE = /\.(example|sample|template|dist)$/;

/** True for `.env`, `.env.local`, `.envrc`... but not `.env.example` and the like. */
export function isEnvFile(name: string): boolean {
  return ENV_FILE.test(name) && !ENV_TEMPLATE.test(name);
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

/**
 * `.env` files the command should not read: those in the home directory down to `depth`
 * levels (hidden directories and node_modules are not entered) and those directly in each
 * directory above the workspace, never one inside the workspace itself. Synchronous: it runs
 * in the level-1 helper (a process of its own) before every command, where a walk through
 * the thread pool cost 7 ms per command on the loaded VM and a synchronous one 0.1 ms
 * (ADR 2000).
 */
export function findEnvFiles(options: { home: string; root: string; depth?: number }): string[] {
  const found = new Set<string>();
  const depth = options.depth ?? 3;
  const visit = (dir: string, level: number): void => {
    if (inside(dir, options.root)) return;
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (!entry.isDirectory()) {
        if (isEnvFile(entry.name)) found.add(path);
      } else if (level < depth && !entry.name.startsWith(".") && entry.name !== "node_modules") {
        visit(path, level + 1);
      }
    }
  };
  visit(options.home, 0);
  for (let dir = dirname(options.root); ; dir = dirname(dir)) {
    if (!inside(options.root, dir) || dir === options.root) break;
    if (dir !== options.home) visit(dir, depth);
    if (dir === dirname(dir)) break;
  }
  return [...found].sort();
}
