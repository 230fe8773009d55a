import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processesWith, waitUntilGone } from "../../test/helpers/sandbox.ts";
import { canExecute, lifelineArgv, spawnGroup } from "./lifeline.ts";

// Every spawner's process group dies with the engine's process, however that process ends.
// Each case starts a real Node process that runs a command ignoring SIGTERM through one of
// the spawners, kills that process with SIGKILL (no cleanup runs), and polls /proc until the
// command's processes are gone.

const SRC = fileURLToPath(new URL("..", import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-lifeline-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A shell command that ignores SIGTERM and SIGINT and keeps two processes sleeping. */
const stubborn = (marker: string) =>
  `trap '' TERM INT HUP; sleep ${marker} & sleep ${marker} & echo ready; wait`;

/** Module code (run by the engine stand-in) that starts the command with each spawner. */
const SPAWNERS: Record<string, (command: string) => string> = {
  "bash tool runner (runProcess)": (command) => `
    import { runProcess } from ${JSON.stringify(join(SRC, "sandbox/process.ts"))};
    runProcess({ argv: ["/bin/bash", "-c", ${JSON.stringify(command)}], cwd: ${JSON.stringify(dir)},
      env: { PATH: process.env.PATH }, timeoutMs: 0, signal: new AbortController().signal,
      onOutput: (c) => process.stdout.write(c) }, { level: 0, runner: "subprocess", network: true });`,
  "skill script runner": (command) => `
    import { writeFileSync } from "node:fs";
    import { subprocessRunner } from ${JSON.stringify(join(SRC, "skill/scripts.ts"))};
    const path = ${JSON.stringify(join(dir, "script.sh"))};
    writeFileSync(path, ${JSON.stringify(`${command}\n`)});
    setTimeout(() => process.stdout.write("ready\\n"), 300);
    subprocessRunner()({ path, args: [], cwd: ${JSON.stringify(dir)}, signal: new AbortController().signal, timeoutMs: 0 });`,
  "shell hook": (command) => `
    import { runCommandHook } from ${JSON.stringify(join(SRC, "hooks/shell.ts"))};
    setTimeout(() => process.stdout.write("ready\\n"), 300);
    runCommandHook({ point: "pre_tool", command: ${JSON.stringify(command)} },
      { point: "turn_start", threadId: "t", turnId: "u", cwd: ${JSON.stringify(dir)}, permissionMode: "default" },
      { timeoutMs: 600000, signal: new AbortController().signal, env: { PATH: process.env.PATH } });`,
};

describe("process groups die with the engine's process", () => {
  for (const [name, code] of Object.entries(SPAWNERS)) {
    it(`${name}: kill -9 of the engine takes the command's processes down`, async () => {
      const marker = `${4000 + Math.floor(Math.random() * 5000)}.${process.pid % 1000}`;
      const engine = spawn(process.execPath, ["--input-type=module", "-e", code(stubborn(marker))], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const sleepers = () => processesWith(`sleep ${marker}`, true);
      try {
        let seen = "";
        await new Promise<void>((resolve, reject) => {
          engine.stdout.on("data", (c: Buffer) => {
            seen += c.toString();
            if (seen.includes("ready")) resolve();
          });
          engine.on("exit", (c) => reject(new Error(`the engine stand-in exited early (${c}): ${seen}`)));
        });
        await waitUntilGone(() => (sleepers().length >= 2 ? [] : [0]), 5000);
        expect(sleepers()).toHaveLength(2);
        engine.kill("SIGKILL");
        // Everything with the marker: the sleepers, their shell and the watchdog.
        expect(await waitUntilGone(() => processesWith(marker), 5000)).toEqual([]);
      } finally {
        engine.kill("SIGKILL");
        for (const pid of processesWith(marker)) process.kill(pid, "SIGKILL");
      }
    });
  }
});

describe("spawnGroup", () => {
  it("kills what the leader left behind, watchdog included, when the leader exits", async () => {
    const marker = `lifeline-leftover-${process.pid}`;
    const child = spawnGroup("/bin/sh", ["-c", `sleep 300 & echo started`, marker], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    await new Promise((resolve) => child.on("close", resolve));
    expect(await waitUntilGone(() => processesWith(marker), 3000)).toEqual([]);
  });

  it("spawns a missing file directly, so it fails with ENOENT as usual", async () => {
    const child = spawnGroup("/nonexistent/tool", [], { stdio: ["ignore", "ignore", "ignore"] });
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => child.on("error", resolve));
    expect(err.code).toBe("ENOENT");
  });

  it("finds executables the way spawn does", () => {
    expect(canExecute("sh", "/nonexistent:/bin")).toBe(true);
    expect(canExecute("sh", "/nonexistent")).toBe(false);
    expect(canExecute("/bin/sh", undefined)).toBe(true);
    expect(lifelineArgv(["ls", "-l"]).slice(-2)).toEqual(["ls", "-l"]);
  });
});
