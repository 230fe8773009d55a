import { readFileSync } from "node:fs";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers/skills.ts";
import { commandFor, formatScriptResult, subprocessRunner } from "./scripts.ts";

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("taifeng-scripts-"));
});
afterAll(() => cleanup());

const run = subprocessRunner();
const never = new AbortController().signal;

/** True while the process runs (a zombie, killed but not yet reaped by init, counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("condition not reached");
}

describe("subprocess script runner", () => {
  it("runs a Node script with arguments, cwd and env, capturing both streams", async () => {
    const path = join(dir, "echo.mjs");
    await writeFile(
      path,
      "console.log(process.argv.slice(2).join('|')); console.log(process.cwd()); console.error('warn:' + process.env.TAIFENG_SKILL_NAME); process.exit(3);",
    );
    const r = await run({
      path,
      args: ["a b", "c"],
      cwd: dir,
      env: { TAIFENG_SKILL_NAME: "demo" },
      signal: never,
      timeoutMs: 10_000,
    });
    expect(r).toMatchObject({ exitCode: 3, signal: null, timedOut: false, aborted: false, truncated: false });
    expect(r.stdout).toBe(`a b|c\n${dir}\n`);
    expect(r.stderr).toBe("warn:demo\n");
    expect(formatScriptResult("scripts/echo.mjs", r, 10_000)).toBe(
      `Script scripts/echo.mjs exited with code 3.\n--- stdout ---\na b|c\n${dir}\n--- stderr ---\nwarn:demo`,
    );
  });

  it("picks the interpreter from the extension, or runs an executable directly", async () => {
    expect(await commandFor("/x/a.py")).toEqual({ command: "python3", args: ["/x/a.py"] });
    expect(await commandFor("/x/a.sh")).toEqual({ command: "sh", args: ["/x/a.sh"] });
    const exe = join(dir, "tool");
    await writeFile(exe, "#!/bin/sh\necho direct\n");
    await chmod(exe, 0o755);
    expect(await commandFor(exe)).toEqual({ command: exe, args: [] });
    const r = await run({ path: exe, args: [], cwd: dir, signal: never, timeoutMs: 10_000 });
    expect(r.stdout).toBe("direct\n");
  });

  it("caps output and says so", async () => {
    const path = join(dir, "loud.sh");
    await writeFile(path, "i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done\n");
    const r = await run({ path, args: [], cwd: dir, signal: never, timeoutMs: 10_000, maxOutputBytes: 100 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toHaveLength(100);
    expect(r.truncated).toBe(true);
    expect(formatScriptResult("loud.sh", r, 1)).toContain("(output truncated)");
  });

  it("kills the whole process group on timeout, grandchildren included", async () => {
    const pidFile = join(dir, "grandchild.pid");
    const path = join(dir, "spawner.sh");
    await writeFile(path, `sleep 30 &\necho $! > "${pidFile}"\nwait\n`);
    const r = await run({ path, args: [], cwd: dir, signal: never, timeoutMs: 1000 });
    expect(r).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGTERM" });
    const grandchild = Number((await readFile(pidFile, "utf8")).trim());
    await waitFor(async () => !alive(grandchild));
    expect(formatScriptResult("spawner.sh", r, 300)).toBe(
      "Script spawner.sh timed out after 300 ms and was killed.\n(no output)",
    );
  });

  it("stops on abort", async () => {
    const path = join(dir, "slow.sh");
    await writeFile(path, "echo started\nsleep 30\n");
    const controller = new AbortController();
    const pending = run({ path, args: [], cwd: dir, signal: controller.signal, timeoutMs: 0 });
    setTimeout(() => controller.abort(), 100);
    const r = await pending;
    expect(r).toMatchObject({ aborted: true, timedOut: false, exitCode: null });
  });

  it("reports a script that cannot start as data", async () => {
    const r = await run({
      path: join(dir, "missing.js"),
      args: [],
      cwd: join(dir, "no-such-dir"),
      signal: never,
      timeoutMs: 1000,
    });
    expect(r.exitCode).toBeNull();
    expect(r.error).toContain("ENOENT");
    expect(formatScriptResult("missing.js", r, 1000)).toMatch(
      /^Script missing\.js could not start: .*ENOENT/,
    );
  });
});
