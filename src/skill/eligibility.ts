import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { delimiter, join } from "node:path";
import type { SkillRequirements } from "./types.ts";

/** The machine a skill is checked against; injectable so hosts and tests can describe another one. */
export interface HostEnvironment {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly platform: string;
}

/** The current process's environment and platform. */
export function currentHost(): HostEnvironment {
  return { env: process.env, platform: process.platform };
}

/**
 * Finds executables on PATH, caching answers for the life of the finder (one load): a reload
 * creates a new finder, so installing a binary is seen at the next reload.
 */
export function binaryFinder(host: HostEnvironment): (bin: string) => Promise<boolean> {
  const cache = new Map<string, Promise<boolean>>();
  const dirs = (host.env.PATH ?? host.env.Path ?? "").split(delimiter).filter(Boolean);
  const exts =
    host.platform === "win32" ? ["", ...(host.env.PATHEXT ?? ".EXE;.CMD;.BAT;.COM").split(";")] : [""];
  const find = async (bin: string): Promise<boolean> => {
    if (bin.includes("/") || bin.includes("\\")) return executable(bin);
    for (const dir of dirs) for (const ext of exts) if (await executable(join(dir, bin + ext))) return true;
    return false;
  };
  return (bin) => {
    let hit = cache.get(bin);
    if (!hit) {
      hit = find(bin);
      cache.set(bin, hit);
    }
    return hit;
  };
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why a skill cannot run on this host, one reason per unmet requirement (empty = eligible):
 * every `bins` entry on PATH, at least one of `anyBins`, every `env` variable set and
 * non-empty, and `process.platform` in `os` when `os` is given.
 */
export async function checkRequirements(
  req: SkillRequirements,
  host: HostEnvironment,
  hasBinary: (bin: string) => Promise<boolean>,
): Promise<string[]> {
  const reasons: string[] = [];
  if (req.os.length > 0 && !req.os.includes(host.platform))
    reasons.push(`runs only on ${req.os.join(", ")} (this is ${host.platform})`);
  for (const bin of req.bins) if (!(await hasBinary(bin))) reasons.push(`needs \`${bin}\` on PATH`);
  if (req.anyBins.length > 0) {
    const found = await Promise.all(req.anyBins.map(hasBinary));
    if (!found.some(Boolean))
      reasons.push(`needs one of ${req.anyBins.map((b) => `\`${b}\``).join(", ")} on PATH`);
  }
  for (const name of req.env) {
    const value = host.env[name];
    if (value === undefined || value === "") reasons.push(`needs the environment variable ${name}`);
  }
  return reasons;
}
