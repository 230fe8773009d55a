import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";

/** The tests run the real `taifeng` binary on SimClient scripts: root.json for the root, child.json for the helper. */
let dir: string;
let env: Record<string, string>;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "taifeng-cli-agents-"));
  env = { HOME: join(dir, "home"), TAIFENG_STORAGE: join(dir, "threads") };
  mkdirSync(join(dir, ".taifeng", "agents"), { recursive: true });
  mkdirSync(join(dir, "home", ".taifeng", "agents"), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = (rel: string, text: string) => writeFileSync(join(dir, rel), text);
const script = (steps: unknown[]) => JSON.stringify({ steps });

function helperAgent(): void {
  write(
    ".taifeng/agents/helper.md",
    `---\nname: helper\ndescription: Does one part of a job.\nmodel: sim:${join(dir, "child.json")}\n---\nDo the part you are given.\n`,
  );
  write("child.json", script([{ text: "part done" }]));
  write(
    "root.json",
    script([
      {
        toolCalls: [
          { name: "spawn_agent", arguments: { agent: "helper", task: "part A" } },
          { name: "spawn_agent", arguments: { agent: "helper", task: "part B" } },
          { name: "wait_agents", arguments: {} },
        ],
      },
      { text: "all done" },
    ]),
  );
}

describe("taifeng run with child agents", { timeout: 180_000 }, () => {
  it("shows the children as an indented tree with their status, and threads ls --tree shows the same tree", async () => {
    helperAgent();
    const res = await runCli(["run", "-m", `sim:${join(dir, "root.json")}`, "do both parts"], {
      cwd: dir,
      env,
    });
    expect(res.stderr).not.toMatch(/taifeng: .*skipped/);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("all done");
    const lines = res.stderr.split("\n");
    // Live lines as children spawn and finish, indented by depth.
    for (const line of [
      "  ↳ root/helper#1 spawned",
      "  ↳ root/helper#2 spawned",
      "  • root/helper#1 running",
      "  ✓ root/helper#1 completed: part done",
      "  ✓ root/helper#2 completed: part done",
    ])
      expect(lines).toContain(line);
    expect(lines.indexOf("  ↳ root/helper#1 spawned")).toBeLessThan(
      lines.indexOf("  ✓ root/helper#1 completed: part done"),
    );
    // The final tree.
    expect(res.stderr).toContain(
      "agents:\n  root  idle\n    root/helper#1  completed\n    root/helper#2  completed\n",
    );
    const rootThread = /thread (thr_\S+) \(continue/.exec(res.stderr)?.[1];
    expect(rootThread).toBeDefined();

    const tree = await runCli(["threads", "ls", "--tree"], { cwd: dir, env });
    expect(tree.code).toBe(0);
    const rows = tree.stdout.trimEnd().split("\n");
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(new RegExp(`^${rootThread} +idle +1 turn\\(s\\).*do both parts$`));
    expect(rows[1]).toMatch(/^├─ root\/helper#1 {2}agt_\w+ {2}idle {2}1 turn\(s\)/);
    expect(rows[2]).toMatch(/^└─ root\/helper#2 {2}agt_\w+ {2}idle {2}1 turn\(s\)/);

    const json = await runCli(["threads", "ls", "--tree", "--json"], { cwd: dir, env });
    const forest = JSON.parse(json.stdout) as {
      thread: { threadId: string };
      children: { link: string; thread: { agent: { path: string; parentThreadId: string } } }[];
    }[];
    expect(forest.map((r) => r.thread.threadId)).toEqual([rootThread]);
    expect(
      forest[0]?.children.map((c) => [c.link, c.thread.agent.path, c.thread.agent.parentThreadId]),
    ).toEqual([
      ["agent", "root/helper#1", rootThread],
      ["agent", "root/helper#2", rootThread],
    ]);
  });

  it("a child's approval shows as waiting in the tree; --non-interactive fail fails the run and stops the tree", async () => {
    helperAgent();
    write(
      "child.json",
      script([{ toolCalls: [{ name: "bash", arguments: { command: "echo hi > out.txt" } }] }]),
    );
    const res = await runCli(
      ["run", "--non-interactive", "fail", "-m", `sim:${join(dir, "root.json")}`, "go"],
      { cwd: dir, env },
    );
    expect(res.code).toBe(1);
    const lines = res.stderr.split("\n");
    expect(lines).toContain("  ? root/helper#1 waiting for approval: bash");
    expect(res.stderr).toMatch(/bash needs an approval .* --non-interactive fail is set: failing the turn/);
    // The tree was stopped from the root: no child is left running.
    expect(res.stderr, res.stderr).toMatch(
      /agents:\n {2}root {2}idle\n {4}root\/helper#1 {2}aborted .*\n {4}root\/helper#2 {2}aborted/,
    );
  });

  it("--json tags the children's events with their agent path", async () => {
    helperAgent();
    const res = await runCli(["run", "--json", "-m", `sim:${join(dir, "root.json")}`, "go"], {
      cwd: dir,
      env,
    });
    expect(res.code).toBe(0);
    const events = res.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { agent?: string; msg: { type: string; path?: string } });
    const child = events.filter((e) => e.agent === "root/helper#2").map((e) => e.msg.type);
    expect(child[0]).toBe("thread_opened");
    expect(child).toContain("turn_completed");
    expect(
      events.filter((e) => e.agent === undefined && e.msg.type === "child_completed").map((e) => e.msg.path),
    ).toEqual(expect.arrayContaining(["root/helper#1", "root/helper#2"]));
  });

  it("without definitions or --agents the model gets no agent tools; --agents gives them", async () => {
    write(
      "root.json",
      script([
        { toolCalls: [{ name: "spawn_agent", arguments: { instructions: "x", task: "y" } }] },
        { text: "ok" },
      ]),
    );
    const plain = await runCli(["run", "--json", "-m", `sim:${join(dir, "root.json")}`, "go"], {
      cwd: dir,
      env,
    });
    expect(plain.stdout).toMatch(/unknown tool|not available|no tool/i);
    write("child.json", "");
    const withAgents = await runCli(["run", "--agents", "-m", `sim:${join(dir, "root.json")}`, "go"], {
      cwd: dir,
      env,
    });
    expect(withAgents.code).toBe(0);
    expect(withAgents.stderr).toContain("  ↳ root/inline#1 spawned");
  });
});

describe("taifeng agents ls", { timeout: 60_000 }, () => {
  it("lists definitions with where they came from; a broken file is an error naming the file and the field", async () => {
    write(
      "home/.taifeng/agents/reviewer.md",
      "---\nname: reviewer\ndescription: Reviews (user copy).\n---\nReview.\n",
    );
    write(
      ".taifeng/agents/reviewer.md",
      "---\nname: reviewer\ndescription: Reviews diffs.\ntools: Read, Grep\n---\nReview.\n",
    );
    write(
      ".taifeng/agents/writer.md",
      "---\nname: writer\ndescription: Writes.\nmodel: sim:w.json\npermissionMode: plan\n---\nWrite.\n",
    );
    write(".taifeng/agents/broken.md", "---\nname: broken\ndescription: Broken.\nmaxSteps: many\n---\nx\n");
    mkdirSync(join(dir, ".taifeng", "skills", "summarize"), { recursive: true });
    write(
      ".taifeng/skills/summarize/SKILL.md",
      "---\nname: summarize\ndescription: Summarizes text.\n---\nSummarize.\n",
    );

    const res = await runCli(["agents", "ls"], { cwd: dir, env });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`taifeng: .taifeng/agents/broken.md (maxSteps): `);
    expect(res.stdout).toMatch(/^reviewer +project +Reviews diffs\.$/m);
    expect(res.stdout).toMatch(
      /\.taifeng\/agents\/reviewer\.md · tools Read, Grep · replaces .*home\/\.taifeng\/agents\/reviewer\.md/,
    );
    expect(res.stdout).toMatch(/^writer +project +Writes\.$/m);
    expect(res.stdout).toContain("model sim:w.json · mode plan");
    expect(res.stdout).toMatch(/^summarize +skill +Summarizes text\.$/m);

    const json = await runCli(["agents", "ls", "--json"], { cwd: dir, env });
    expect(json.code).toBe(1);
    const doc = JSON.parse(json.stdout) as {
      agents: { name: string; source: string; file: string }[];
      errors: { file: string; field: string | null; message: string }[];
    };
    expect(doc.agents.map((a) => [a.name, a.source])).toEqual([
      ["reviewer", "project"],
      ["writer", "project"],
      ["summarize", "skill"],
    ]);
    expect(doc.errors).toEqual([
      {
        file: join(dir, ".taifeng/agents/broken.md"),
        field: "maxSteps",
        message: expect.stringContaining("maxSteps"),
      },
    ]);
  });

  it("says where it looked when there is nothing", async () => {
    const res = await runCli(["agents", "ls"], { cwd: dir, env });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("no agent definitions found (searched: ");
  });
});
