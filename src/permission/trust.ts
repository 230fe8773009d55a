import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { TaifengError } from "../errors.ts";
import { readJsonFile } from "../json-file.ts";

/**
 * Project trust: a repository's `.taifeng/` files may restrict at once (deny and ask rules,
 * a stricter mode), but anything that widens permissions or runs code applies only once the
 * user trusts the folder. Trust is remembered per folder and per content hash of the files
 * that can widen or run things, so a changed `.taifeng/settings.json` asks again.
 */

/** Files of a project (relative to its root) whose content a trust grant covers. */
export const TRUST_FILES: readonly string[] = [
  ".taifeng/settings.json",
  ".taifeng/settings.local.json",
  ".mcp.json",
  "taifeng.config.json",
  "taifeng.config.yaml",
  "taifeng.config.yml",
];

/**
 * How a host decides about the project folder: `true` trusts it (the host has decided, e.g.
 * after asking), `false` never trusts it, `"remembered"` trusts it when the user has (the
 * CLI's prompt records the grant in `~/.taifeng/trusted-folders.json`).
 */
export type ProjectTrustOption = boolean | "remembered";

/** What is known about a project folder's trust. */
export interface TrustInspection {
  /** The project root (absolute). */
  readonly root: string;
  /** sha256 over the trust files that exist (their relative paths and contents). */
  readonly hash: string;
  /** The trust files that exist, relative to the root. */
  readonly files: readonly string[];
  /** The user trusts this folder with exactly this content. */
  readonly remembered: boolean;
  /** The user trusted this folder, but its files have changed since. */
  readonly changed: boolean;
}

const TrustRecord = z.strictObject({ hash: z.string(), trustedAt: z.string() });
const TrustFile = z.strictObject({
  version: z.literal(1),
  folders: z.record(z.string(), TrustRecord),
});
type TrustFile = z.infer<typeof TrustFile>;

/** Where remembered grants live: `~/.taifeng/trusted-folders.json`. */
export function trustFilePath(home: string): string {
  return join(resolve(home), ".taifeng", "trusted-folders.json");
}

/** Hashes a project's trust files. Missing files are skipped; unreadable ones throw. */
export async function fingerprintProject(root: string): Promise<{ hash: string; files: string[] }> {
  const hash = createHash("sha256");
  const files: string[] = [];
  for (const rel of TRUST_FILES) {
    let content: Buffer;
    try {
      content = await readFile(join(root, rel));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") continue;
      throw new TaifengError("invalid_config", `cannot read ${join(root, rel)}: ${(err as Error).message}`);
    }
    files.push(rel);
    hash.update(`${rel}\0${content.length}\0`);
    hash.update(content);
  }
  return { hash: `sha256:${hash.digest("hex")}`, files };
}

async function readTrustFile(home: string): Promise<TrustFile> {
  const path = trustFilePath(home);
  const file = await readJsonFile(path, { code: "invalid_config", label: "trust file", optional: true });
  if (!file) return { version: 1, folders: {} };
  const parsed = TrustFile.safeParse(file.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TaifengError(
      "invalid_config",
      `trust file ${path}: ${issue?.path.map(String).join(".") || "(root)"}: ${issue?.message ?? "invalid"}`,
    );
  }
  return parsed.data;
}

/** Reads what the user decided about `root` and whether its files still match. */
export async function inspectTrust(root: string, home: string): Promise<TrustInspection> {
  const absolute = resolve(root);
  const [{ hash, files }, store] = await Promise.all([fingerprintProject(absolute), readTrustFile(home)]);
  const record = store.folders[absolute];
  return {
    root: absolute,
    hash,
    files,
    remembered: record?.hash === hash,
    changed: record !== undefined && record.hash !== hash,
  };
}

/** Resolves a host's trust option for a project root. */
export async function resolveTrust(option: ProjectTrustOption, root: string, home: string): Promise<boolean> {
  if (option !== "remembered") return option;
  return (await inspectTrust(root, home)).remembered;
}

/**
 * Records that the user trusts `root` with its current content (`inspection.hash`). The file
 * is replaced atomically (write to a temporary file, then rename).
 */
export async function rememberTrust(inspection: TrustInspection, home: string): Promise<void> {
  await updateTrustFile(home, (file) => {
    file.folders[inspection.root] = { hash: inspection.hash, trustedAt: new Date().toISOString() };
  });
}

/** Forgets the user's trust in `root`. Returns whether there was a grant. */
export async function forgetTrust(root: string, home: string): Promise<boolean> {
  let had = false;
  await updateTrustFile(home, (file) => {
    const key = resolve(root);
    had = key in file.folders;
    delete file.folders[key];
  });
  return had;
}

/** The folders the user trusts, with the hash each grant covers. */
export async function listTrust(home: string): Promise<{ root: string; hash: string; trustedAt: string }[]> {
  const file = await readTrustFile(home);
  return Object.entries(file.folders).map(([root, r]) => ({ root, ...r }));
}

async function updateTrustFile(home: string, change: (file: TrustFile) => void): Promise<void> {
  const file = await readTrustFile(home);
  change(file);
  const path = trustFilePath(home);
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, path);
}
