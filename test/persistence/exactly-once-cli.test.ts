import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { CLI } from "../helpers/cli.ts";

/**
 * Exactly-once after approval through the real `taifeng run` on a terminal (a pseudo-terminal
 * from util-linux `script`), killed with SIGKILL at the moments that matter: the moment the
 * approval prompt is shown, and the moment the approved command's effect appears.
 */

let root: string;
let project: string;
let storage: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "taifeng-once-cli-"));
  project = join(root, "project");
  storage = join(root, "threads");
  await mkdir(project, { recursive: true });
});
afterAll(() => rm(root, { recursive: true, force: true }));

let scripts = 0;
async function model(steps: unknown[]): Promise<string> {
  const path = join(root, `script-${++scripts}.json`);
  await writeFile(path, JSON.stringify({ steps }));
  return `sim:${path}`;
}

const effects = async () =>
  (await readFile(join(project, "effects.txt"), "utf8").catch(() => "")).split("\n").filter(Boolean);

/**
 * Runs the CLI under a pseudo-terminal. `onOutput` sees everything printed so far and may
 * answer (written to the terminal) or ask for the CLI to be killed with SIGKILL.
 */
function onTerminal(
  args: string[],
  onOutput: (out: string) => { answer?: string; kill?: boolean } | undefined,
): Promise<{ out: string; killed: boolean; code: number | null }> {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  // `exec` makes the shell's pid the CLI's, so the kill reaches the CLI itself.
  const child: ChildProcess = spawn("script", ["-qfec", `echo PID=$$; exec ${quoted}`, "/dev/null"], {
    cwd: project,
    env: { ...process.env, NO_COLOR: "1", TAIFENG_STORAGE: storage, HOME: root },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let killed = false;
  let answered = 0;
  return new Promise((resolve) => {
    const react = () => {
      const action = onOutput(out.slice(answered));
      if (action?.answer !== undefined) {
        answered = out.length;
        child.stdin?.write(action.answer);
      }
      if (action?.kill && !killed) {
        killed = true;
        const pid = Number(/PID=(\d+)/.exec(out)?.[1]);
        process.kill(pid, "SIGKILL");
      }
    };
    child.stdout?.on("data", (d) => {
      out += d;
      react();
    });
    const poll = setInterval(react, 2);
    child.on("close", (code) => {
      clearInterval(poll);
      resolve({ out, killed, code });
    });
  });
}

describe("taifeng run: exactly-once after approval, across SIGKILL (CLI on a terminal)", () => {
  it("a prompt killed the moment it shows is asked again; an approved command killed after its effect never runs twice", async () => {
    const call = { id: "c1", name: "bash", arguments: { command: "echo once >> effects.txt" } };
    const base = ["run", "--storage", storage];
    // 1. Killed the moment the approval prompt is on the screen.
    const first = await onTerminal(
      [...base, "-m", await model([{ toolCalls: [call] }, { text: "done" }]), "go"],
      (out) => (out.includes("allow? y = yes") ? { kill: true } : undefined),
    );
    expect(first.killed).toBe(true);
    expect(await effects()).toEqual([]);
    const store = new JsonlThreadStore({ dir: storage });
    const [thread] = await store.list();
    await store.close();
    expect(thread?.status).toBe("suspended"); // the question was on disk before it was shown
    const threadId = thread?.threadId as string;

    // 2. The resumed turn asks again; approved; killed the moment the effect is there.
    let approved = false;
    const second = await onTerminal(
      [...base, "--thread", threadId, "-m", await model([{ text: "done" }, { text: "done" }]), "next"],
      (out) => {
        if (!approved && out.includes("allow? y = yes")) {
          approved = true;
          return { answer: "y\r" };
        }
        return approved && effectsNow() ? { kill: true } : undefined;
      },
    );
    expect(second.out).toContain("finishing it before your prompt");
    expect(second.killed).toBe(true);
    expect(await effects()).toEqual(["once"]);

    // 3. Whatever happens next, the command does not run again and nobody is asked again.
    const third = await onTerminal(
      [...base, "--thread", threadId, "-m", await model([{ text: "done" }, { text: "done" }]), "last"],
      (out) => (out.includes("allow? y = yes") ? { answer: "y\r" } : undefined),
    );
    expect(third.code).toBe(0);
    expect(third.out).not.toContain("allow? y = yes");
    expect(await effects()).toEqual(["once"]);
  }, 90_000);
});

/** Synchronous peek at the side-effect file (the poll runs every 2 ms). */
function effectsNow(): boolean {
  try {
    return readFileSync(join(project, "effects.txt"), "utf8").includes("once");
  } catch {
    return false;
  }
}
