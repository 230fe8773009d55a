import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../src/conversation/jsonl-store.ts";
import { summarizeThread } from "../src/conversation/summary.ts";

const BIN = resolve(import.meta.dirname, "../bin/taifeng.mjs");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tf-chat-"));
  await writeFile(
    join(dir, "script.json"),
    JSON.stringify({
      steps: [
        { text: "hello there" },
        { toolCalls: [{ name: "bash", arguments: { command: "touch made-by-chat" } }] },
        { text: "bash done" },
        { text: Array.from({ length: 30 }, () => "slow "), chunkDelayMs: 300 },
      ],
    }),
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** `taifeng chat` on a pseudo-terminal (util-linux `script`), driven like a person would. */
function chatOnPty(args: string[]): {
  child: ChildProcess;
  output: () => string;
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<void>;
  type: (text: string) => void;
  exited: Promise<number | null>;
} {
  const command = [process.execPath, BIN, "chat", ...args].map((a) => `'${a}'`).join(" ");
  const child = spawn("script", ["-qfec", command, "/dev/null"], {
    cwd: dir,
    env: { ...process.env, HOME: dir, NO_COLOR: "1", TAIFENG_STORAGE: join(dir, "threads") },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const onData = (chunk: Buffer) => {
    out += chunk.toString("utf8");
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i];
      if (w?.re.test(out)) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return {
    child,
    output: () => out,
    waitFor: (re, timeoutMs = 30_000) =>
      re.test(out)
        ? Promise.resolve()
        : new Promise((resolveWait, reject) => {
            const timer = setTimeout(
              () => reject(new Error(`timed out waiting for ${re} in:\n${out.slice(-2000)}`)),
              timeoutMs,
            );
            waiters.push({
              re,
              resolve: () => {
                clearTimeout(timer);
                resolveWait();
              },
            });
          }),
    type: (text) => child.stdin?.write(text),
    exited,
  };
}

describe("taifeng chat on a terminal", () => {
  it("streams answers, asks approvals inline, interrupts with Ctrl-C, takes slash commands, and keeps the thread", async () => {
    const chat = chatOnPty(["--model", `sim:${join(dir, "script.json")}`]);
    try {
      await chat.waitFor(/\/help for commands/, 60_000);
      chat.type("hi\r");
      await chat.waitFor(/hello there[\s\S]*✓ done in 1 step/);
      chat.type("make a file\r");
      await chat.waitFor(/allow\? y = yes/);
      chat.type("y\r");
      await chat.waitFor(/bash done[\s\S]*✓ done in/);
      expect(existsSync(join(dir, "made-by-chat"))).toBe(true);
      chat.type("/usage\r");
      await chat.waitFor(/this session: 2 turn\(s\), tokens in \d+/);
      chat.type("go slow\r");
      await chat.waitFor(/slow slow/);
      chat.type("\x03");
      await chat.waitFor(/turn aborted/);
      chat.type("/threads\r");
      await chat.waitFor(/\* thr_\S+ {2}3 turn\(s\)/);
      chat.type("/exit\r");
      expect(await chat.exited).toBe(0);
    } finally {
      chat.child.kill("SIGKILL");
    }
    const threadId = /continue with taifeng chat --thread (thr_[A-Za-z0-9]+)/.exec(
      chat.output(),
    )?.[1] as string;
    expect(threadId).toBeDefined();
    const store = new JsonlThreadStore({ dir: join(dir, "threads") });
    const info = summarizeThread(await store.read(threadId));
    await store.close();
    expect(info.turns).toBe(3);

    // The history survives: continue the thread; Ctrl-C at the prompt exits.
    const again = chatOnPty(["--model", `sim:${join(dir, "script.json")}`, "--thread", threadId]);
    try {
      await again.waitFor(new RegExp(`taifeng chat on thread ${threadId}`), 60_000);
      again.type("/usage\r");
      await again.waitFor(/this session: 0 turn/);
      again.type("\x03");
      expect(await again.exited).toBe(0);
    } finally {
      again.child.kill("SIGKILL");
    }
    expect((await readFile(join(dir, "threads", `${threadId}.jsonl`), "utf8")).length).toBeGreaterThan(0);
  }, 180_000);

  it("/model, /rewind N, /compact and /fork act on the thread", async () => {
    const script = join(dir, "plain.json");
    await writeFile(
      script,
      JSON.stringify({ steps: [{ text: "plain answer" }], onExhausted: "repeat_last" }),
    );
    const chat = chatOnPty(["--model", `sim:${script}`]);
    try {
      await chat.waitFor(/\/help for commands/, 60_000);
      for (const [i, text] of ["one", "two", "three"].entries()) {
        chat.type(`${text}\r`);
        await chat.waitFor(new RegExp(`(✓ done in[\\s\\S]*){${i + 1}}`));
      }
      chat.type("/model\r");
      await chat.waitFor(/model: sim:/);
      chat.type("/rewind 1\r");
      await chat.waitFor(/rewound 1 turn\(s\): 2 left/);
      chat.type("/threads\r");
      await chat.waitFor(/\* thr_\S+ {2}2 turn\(s\)/);
      chat.type("/compact\r");
      await chat.waitFor(/⇣ compacted/);
      chat.type(`/model sim:${script}\r`);
      await chat.waitFor(/model: sim:\S+ from the next turn/);
      chat.type("/fork\r");
      await chat.waitFor(/forked (thr_\S+) at turn \d+: now on (thr_\S+)/);
      chat.type("/exit\r");
      expect(await chat.exited).toBe(0);
    } finally {
      chat.child.kill("SIGKILL");
    }
    const [, from, , to] =
      /forked (thr_[A-Za-z0-9]+) at turn (\d+): now on (thr_[A-Za-z0-9]+)/.exec(chat.output()) ?? [];
    expect(from).toBeDefined();
    const store = new JsonlThreadStore({ dir: join(dir, "threads") });
    const source = await store.read(from as string);
    const forked = summarizeThread(await store.read(to as string));
    await store.close();
    expect(source.some((l) => l.type === "rollback" && l.payload.turns === 1)).toBe(true);
    expect(source.some((l) => l.type === "event" && l.payload.msg.type === "compaction_completed")).toBe(
      true,
    );
    expect(forked.parentThreadId).toBe(from);
  }, 120_000);
});
