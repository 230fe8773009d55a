import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { Sandbox } from "../../src/sandbox/sandbox.ts";

/**
 * Whether the level-1 sandbox tests run here. Where level 1 cannot run they are skipped with
 * the reason, except under `CI=true`: there they run (and fail), so a CI machine without
 * bubblewrap, socat or ripgrep cannot pass by skipping them.
 */
export async function level1Tests(): Promise<{ readonly run: boolean; readonly reason: string | undefined }> {
  const sandbox = new Sandbox({ level: 1, writable: [process.cwd()], network: false });
  const probe = await sandbox.check();
  sandbox.close();
  const reason = probe.ok ? undefined : probe.reason;
  if (reason && process.env.CI !== "true") console.warn(`skipping level-1 sandbox tests: ${reason}`);
  return { run: probe.ok || process.env.CI === "true", reason };
}

/** True while the pid exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Live processes whose command line contains `marker` (read from /proc); `exact`: is exactly these words. */
export function processesWith(marker: string, exact = false): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\u0000", " ");
      const hit = exact ? cmd.trimEnd() === marker : cmd.includes(marker);
      if (hit && alive(Number(entry))) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/** Polls /proc until `find()` is empty or `withinMs` passes; returns what is still alive. */
export async function waitUntilGone(find: () => number[], withinMs: number): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  let left = find();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    left = find();
  }
  return left;
}

/** Level-1 helper processes (src/sandbox/srt/host.ts) running in `cwd`. */
export function helpersIn(cwd: string): number[] {
  return processesWith("sandbox/srt/host.").filter((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/cwd`) === cwd;
    } catch {
      return false;
    }
  });
}
