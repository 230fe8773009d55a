import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Creates a directory and its missing parents one level at a time. Not `mkdir -p`: on a path
 * such as /proc/x, Node's recursive mkdir retries forever at full CPU; this throws the first
 * error instead (ENOENT, EACCES, ENOTDIR...), naming the level that failed.
 */
export function makeDirectory(path: string): void {
  const missing: string[] = [];
  let at = path;
  while (!existsSync(at)) {
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  if (existsSync(at) && !statSync(at).isDirectory()) {
    throw Object.assign(new Error(`${at} is not a directory`), { code: "ENOTDIR" });
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}
