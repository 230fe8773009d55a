import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../src/conversation/jsonl-store.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import type { Event } from "../src/protocol/index.ts";
import { builtinTools } from "../src/tool/builtin/index.ts";
import { startCli } from "./helpers/cli.ts";
import { runCli } from "./helpers/cli-inprocess.ts";
import { nextEvent } from "./helpers/engine.ts";

/**
 * `taifeng run` at parity with the library: completion mode, structured output, a policy
 * for runs nobody answers, resuming a suspended turn, and failing fast and clearly on bad
 * ids and storage.
 */

let root: string;
let env: Record<string, string>;
let project: string;
beforeAll(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), "taifeng-cli-parity-")));
  project = join(root, "project");
  await mkdir(join(root, "home"), { recursive: true });
  await mkdir(project, { recursive: true });
  env = { HOME: join(root, "home"), NO_COLOR: "1", TAIFENG_STORAGE: join(root, "threads") };
});
afterAll(() => rm(root, { recursive: true, force: true }));

let scripts = 0;
async function script(steps: unknown[]): Promise<string> {
  const path = join(root, `script-${++scripts}.json`);
  await writeFile(path, JSON.stringify({ steps }));
  return `sim:${path}`;
}

const run = (args: string[], options: { tty?: boolean; stdin?: string[] } = {}) =>
  runCli(["run", ...args], { cwd: project, env, ...options });

const events = (stdout: string): Event[] =>
  stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Event);

describe("taifeng run --completion and --output-schema", { timeout: 60_000 }, () => {
  it("--completion task_finish ends the turn with task_finish's result", async () => {
    const model = await script([
      { text: "Thinking it over." },
      { toolCalls: [{ name: "task_finish", arguments: { result: "Renamed 3 files." } }] },
    ]);
    const res = await run(["-m", model, "--completion", "task_finish", "rename"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe("Thinking it over.\n");
    expect(res.stderr).toContain("✓ done in 2 step(s)");
    const json = await run(["-m", model, "--completion", "task_finish", "--json", "rename"]);
    expect(events(json.stdout).find((e) => e.msg.type === "turn_completed")?.msg).toMatchObject({
      text: "Renamed 3 files.",
    });
  });

  it("--output-schema prints the validated JSON, after letting the model correct itself", async () => {
    const schema = join(root, "city.schema.json");
    await writeFile(
      schema,
      JSON.stringify({
        type: "object",
        properties: { city: { type: "string" }, pop: { type: "number" } },
        required: ["city", "pop"],
      }),
    );
    const model = await script([
      { text: "Paris, about 2M" },
      { text: '```json\n{"city":"Paris","pop":2.1}\n```' },
    ]);
    const res = await run(["-m", model, "--output-schema", schema, "capital of France?"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`${JSON.stringify({ city: "Paris", pop: 2.1 }, null, 2)}\n`);
    const never = await script([{ text: "no" }, { text: "still no" }, { text: "nope" }]);
    const failed = await run(["-m", never, "--output-schema", schema, "?"]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe("");
    expect(failed.stderr).toContain("turn failed (invalid_output)");
  });

  it("bad values are usage errors", async () => {
    await writeFile(join(root, "not-json.json"), "{ nope");
    for (const [args, message] of [
      [["--completion", "sometimes"], /--completion must be natural or task_finish/],
      [["--output-schema", join(root, "missing.json")], /--output-schema .*missing\.json: .*ENOENT/],
      [["--output-schema", join(root, "not-json.json")], /--output-schema .*not-json\.json: /],
      [["--non-interactive", "maybe"], /--non-interactive must be deny or fail/],
      [["--model-option", "thinking"], /expected key=value/],
      [
        ["-m", "anthropic:claude-haiku-4-5", "-O", "thinkng.budget_tokens=4000"],
        /unknown option "thinkng" \(did you mean "thinking"\?\)/,
      ],
    ] as const) {
      const res = await run([...args, "x"]);
      expect({ args, code: res.code }).toEqual({ args, code: 2 });
      expect(res.stderr).toMatch(message);
    }
  });

  it("--non-interactive followed by the prompt says the prompt was taken as the policy", async () => {
    const res = await run(["--non-interactive", "fix the tests"], { stdin: [] });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--non-interactive must be deny or fail, got "fix the tests"');
    expect(res.stderr).toContain('put the prompt first, e.g. taifeng run "fix the tests" --non-interactive');
    expect(res.stderr).not.toContain("no prompt");
  });
});

describe("taifeng run with nobody to answer", { timeout: 60_000 }, () => {
  const needsApproval = () =>
    script([
      { toolCalls: [{ id: "c1", name: "bash", arguments: { command: "touch made-by-the-model" } }] },
      { text: "done" },
    ]);

  it("--non-interactive fail fails the turn at the first request, even on a terminal", async () => {
    const res = await run(["-m", await needsApproval(), "--non-interactive", "fail", "go"], { tty: true });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("taifeng: bash needs an approval");
    expect(res.stderr).toContain("--non-interactive fail is set: failing the turn");
    expect(res.stderr).not.toContain("allow? y = yes"); // nobody was asked
  });

  it("--non-interactive (deny) denies with a reason the model reads, and offers no ask_user", async () => {
    const res = await run(["-m", await needsApproval(), "--non-interactive", "--json", "go"], { tty: true });
    expect(res.code).toBe(0);
    const evs = events(res.stdout);
    const done = evs.find((e) => e.msg.type === "tool_call_completed")?.msg;
    expect(done).toMatchObject({ name: "bash", status: "denied", isError: true });
    expect(evs.some((e) => e.msg.type === "permission_requested")).toBe(false);
  });

  it("ask_user fails the turn under --non-interactive fail", async () => {
    const model = await script([
      { toolCalls: [{ name: "ask_user", arguments: { question: "Which env?" } }] },
      { text: "ok" },
    ]);
    const res = await run(["-m", model, "--non-interactive", "fail", "deploy"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('taifeng: the model asked "Which env?" and --non-interactive fail is set');
  });
});

describe("taifeng run --thread", { timeout: 60_000 }, () => {
  it("finishes a turn suspended before a crash first, and says so", async () => {
    const storage = join(root, "resume-threads");
    const store = new JsonlThreadStore({ dir: storage });
    const tools = builtinTools({ only: ["bash"] });
    const sim = new SimClient({
      script: [{ toolCalls: [{ id: "c1", name: "bash", arguments: { command: "touch resumed-marker" } }] }],
    });
    const engine = await AgentEngine.open({
      model: sim,
      tools: tools.tools,
      store,
      cwd: project,
      permissions: {},
    });
    const asked = nextEvent(engine, (e) => e.msg.type === "permission_requested");
    engine.submit("make the marker");
    await asked;
    await engine.close(); // the turn stays suspended in the transcript, as after a crash
    await tools.close();
    await store.close();
    const threadId = engine.threadId;
    const model = await script([{ text: "the marker is made" }, { text: "second answer" }]);
    const res = await runCli(["run", "--thread", threadId, "--storage", storage, "-m", model, "and then?"], {
      cwd: project,
      env,
      tty: true,
      stdin: ["y"],
    });
    expect(res.code).toBe(0);
    const notice = res.stderr.indexOf(
      "taifeng: this thread had a turn waiting for an answer when its process stopped",
    );
    const ended = res.stderr.indexOf("taifeng: the resumed turn completed; now your prompt");
    expect(notice).toBeGreaterThanOrEqual(0);
    expect(ended).toBeGreaterThan(notice);
    expect(res.stdout).toBe("the marker is made\nsecond answer\n");
    await expect(readFile(join(project, "resumed-marker"), "utf8")).resolves.toBe("");
  });

  it("an invalid thread id is a usage error (exit 2), in run and in threads", async () => {
    const bad = await run(["--thread", "../etc/passwd", "x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid thread id "../etc/passwd"');
    for (const args of [
      ["show", "../x"],
      ["rewind", "a b", "1"],
      ["fork", "../x"],
    ]) {
      const res = await runCli(["threads", ...args], { cwd: project, env });
      expect({ args, code: res.code }).toEqual({ args, code: 2 });
    }
  });
});

describe("taifeng storage and input", { timeout: 60_000 }, () => {
  it("an unusable --storage fails at once with exit 2 (no spinning on /proc)", {
    timeout: 60_000,
  }, async () => {
    const { child, done } = startCli(["run", "--storage", "/proc/taifeng-x", "hi"]);
    // Generous for a busy machine: the failure being guarded against is a process that never ends.
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const res = await done;
    clearTimeout(timer);
    expect(res.signal).toBe(null);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("--storage /proc/taifeng-x cannot be used");
    await writeFile(join(root, "a-file"), "");
    const file = await runCli(["threads", "ls", "--storage", join(root, "a-file")], { cwd: project, env });
    expect(file.code).toBe(2);
    expect(file.stderr).toContain("is not a directory");
  });

  it("a prompt read from stdin loses its trailing line break", async () => {
    const model = await script([{ text: "ok" }]);
    const res = await runCli(["run", "--json", "-m", model], {
      cwd: project,
      env,
      stdin: ["two lines\nof prompt", ""],
    });
    expect(events(res.stdout).find((e) => e.msg.type === "user_message")?.msg).toMatchObject({
      text: "two lines\nof prompt",
    });
  });

  it("a corrupt transcript is reported once per command", async () => {
    const storage = join(root, "corrupt-threads");
    const model = await script([{ text: "ok" }]);
    const first = await runCli(["run", "--storage", storage, "-m", model, "hi"], { cwd: project, env });
    const threadId = /thread (\S+) \(continue/.exec(first.stderr)?.[1] ?? "";
    const path = join(storage, `${threadId}.jsonl`);
    const lines = (await readFile(path, "utf8")).split("\n");
    lines.splice(2, 0, '{"torn": not json');
    await writeFile(path, lines.join("\n"));
    await rm(join(storage, "index.sqlite"), { force: true });
    const count = (s: string) => s.split("is corrupt at line 3").length - 1;
    for (const args of [["show", threadId], ["rebuild"], ["ls"]]) {
      const res = await runCli(["threads", ...args, "--storage", storage], { cwd: project, env });
      expect({ args, said: count(res.stdout + res.stderr) }).toEqual({ args, said: 1 });
    }
  });
});
