import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli-inprocess.ts";

let root: string;
let project: string;
let env: Record<string, string>;
beforeAll(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), "taifeng-cli-perm-")));
  project = join(root, "project");
  await mkdir(join(project, ".taifeng"), { recursive: true });
  await mkdir(join(root, "home", ".taifeng"), { recursive: true });
  env = { HOME: join(root, "home"), TAIFENG_MANAGED_SETTINGS: join(root, "managed.json"), NO_COLOR: "1" };
  await writeFile(
    join(project, ".taifeng", "settings.json"),
    JSON.stringify({ permissions: { allow: ["Bash(npm run test:*)"], deny: ["Bash(rm *)"] } }),
  );
  await writeFile(
    join(root, "home", ".taifeng", "settings.json"),
    JSON.stringify({ permissions: { ask: ["Bash(npm run test -- --update)"] } }),
  );
  await writeFile(
    join(root, "managed.json"),
    JSON.stringify({ permissions: { deny: ["WebFetch(domain:*.internal)"] } }),
  );
});
afterAll(() => rm(root, { recursive: true, force: true }));

const check = (args: string[], cwd = project, trust = true) =>
  runCli(["permissions", "check", ...args, "--json", ...(trust ? ["--trust"] : [])], { cwd, env });

describe("taifeng permissions check", { timeout: 60_000 }, () => {
  it("decides with the settings discovered from --cwd and HOME", async () => {
    const deny = await check(["--tool", "Bash", "--input", '{"command":"npm run test && rm -rf build"}']);
    expect(deny.code).toBe(0);
    expect(JSON.parse(deny.stdout)).toEqual({
      decision: "deny",
      rule: "Bash(rm *)",
      source: "project",
      reason: `\`rm -rf build\` matches deny rule Bash(rm *) (project: ${join(project, ".taifeng", "settings.json")})`,
      origin: join(project, ".taifeng", "settings.json"),
      mode: "default",
      suggestions: [],
    });
    const allow = JSON.parse(
      (await check(["--tool", "Bash", "--input", '{"command":"npm run test -- x"}'])).stdout,
    );
    expect(allow).toMatchObject({ decision: "allow", rule: "Bash(npm run test:*)", source: "project" });
    const ask = JSON.parse(
      (await check(["--tool", "Bash", "--input", '{"command":"npm run test -- --update"}'])).stdout,
    );
    expect(ask).toMatchObject({ decision: "ask", rule: "Bash(npm run test -- --update)", source: "user" });
    const managed = JSON.parse(
      (await check(["--tool", "Network", "--input", '{"url":"https://db.internal/x"}'])).stdout,
    );
    expect(managed).toMatchObject({ decision: "deny", source: "managed" });
  });

  it("applies an untrusted project's deny rules but not its allow rules, and says so", async () => {
    const allow = await check(
      ["--tool", "Bash", "--input", '{"command":"npm run test -- x"}'],
      project,
      false,
    );
    expect(JSON.parse(allow.stdout)).toMatchObject({ decision: "ask", source: "mode" });
    expect(allow.stderr).toContain(`project settings not applied: ${project} it is not trusted`);
    expect(allow.stderr).toContain("allow rules (Bash(npm run test:*))");
    const deny = await check(["--tool", "Bash", "--input", '{"command":"rm -rf build"}'], project, false);
    expect(JSON.parse(deny.stdout)).toMatchObject({ decision: "deny", source: "project" });
  });

  it("discovers the project from a subdirectory and honours --cwd", async () => {
    await mkdir(join(project, "pkg"), { recursive: true });
    const out = JSON.parse(
      (await check(["--tool", "Bash", "--input", '{"command":"rm x"}', "--cwd", "pkg"], project)).stdout,
    );
    expect(out).toMatchObject({ decision: "deny", source: "project" });
    const elsewhere = JSON.parse(
      (await check(["--tool", "Bash", "--input", '{"command":"rm x"}'], root)).stdout,
    );
    expect(elsewhere).toMatchObject({ decision: "ask", source: "mode", rule: null });
  });

  it("applies --mode and --settings", async () => {
    const extra = join(root, "extra.json");
    await writeFile(extra, JSON.stringify({ permissions: { allow: ["Edit(./docs/**)"] } }));
    const base = ["--tool", "Edit", "--input", '{"path":"docs/a.md"}'];
    expect(JSON.parse((await check(base)).stdout).decision).toBe("ask");
    expect(JSON.parse((await check([...base, "--mode", "acceptEdits"])).stdout).decision).toBe("allow");
    expect(JSON.parse((await check([...base, "--mode", "plan"])).stdout).decision).toBe("deny");
    expect(JSON.parse((await check([...base, "--settings", extra])).stdout)).toMatchObject({
      decision: "allow",
      source: "cli",
      origin: extra,
    });
  });

  it("runs command defense before the rules, as taifeng run does", async () => {
    const out = JSON.parse(
      (await check(["--tool", "Bash", "--input", '{"command":"npm run test && sudo reboot"}'])).stdout,
    );
    expect(out).toMatchObject({ decision: "deny", source: "command_check", rule: "privilege_escalation" });
    expect(out.reason).toContain("runs as another user through sudo");
  });

  it("accepts rule names and built-in tool names", async () => {
    expect(
      JSON.parse((await check(["--tool", "Read", "--input", '{"path":"src/a.ts"}'])).stdout).decision,
    ).toBe("allow");
    expect(
      JSON.parse((await check(["--tool", "bash", "--input", '{"command":"rm -r x"}'])).stdout).decision,
    ).toBe("deny");
    expect(JSON.parse((await check(["--tool", "mcp__github__create_issue"])).stdout).decision).toBe("ask");
    expect(
      JSON.parse((await check(["--tool", "Skill", "--input", '{"name":"deploy"}'])).stdout).suggestions,
    ).toEqual(["Skill(deploy)"]);
  });

  it("prints a human summary without --json", async () => {
    const run = await runCli(["permissions", "check", "--tool", "Bash", "--input", '{"command":"make"}'], {
      cwd: project,
      env,
    });
    expect(run.stdout).toBe(
      "ask by mode (default mode)\n  `make` is a command no rule allows\n  always allow: Bash(make:*)\n",
    );
  });

  it("rejects bad input, modes and settings with exit 2", async () => {
    const bad = await check(["--tool", "Bash", "--input", "{nope"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--input must be JSON/);
    expect((await check(["--tool", "Bash", "--mode", "yolo"])).stderr).toMatch(
      /--mode must be one of default, acceptEdits/,
    );
    const broken = join(root, "broken.json");
    await writeFile(broken, JSON.stringify({ permissions: { deny: ["Bash(rm"] } }));
    const run = await check(["--tool", "Bash", "--settings", broken]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${broken}: permissions.deny[0]`);
    expect((await runCli(["permissions", "check"], { cwd: project, env })).code).toBe(2);
  });
});

describe("taifeng run approvals", { timeout: 60_000 }, () => {
  async function script(steps: unknown[]): Promise<string> {
    const path = join(root, `script-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(path, JSON.stringify({ steps }));
    return path;
  }
  const echo = [{ toolCalls: [{ name: "bash", arguments: { command: "echo hi" } }] }, { text: "ran it" }];

  it("asks inline on a terminal and runs the call when allowed", async () => {
    // --trust: the project is trusted up front, so the terminal is asked about the call only.
    const run = await runCli(["run", "go", "--trust", "--model", `sim:${await script(echo)}`], {
      cwd: project,
      env,
      tty: true,
      stdin: ["y"],
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      '? bash {"command":"echo hi"}\n  `echo hi` is a command no rule allows\n  allow? y = yes, a = always (Bash(echo hi:*)), n = no [n]: ',
    );
    expect(run.stderr).toMatch(/⎿ bash: hi/);
    expect(run.stdout).toContain("ran it");
  });

  it("denies with the typed reason", async () => {
    // --trust: the project is trusted up front, so the terminal is asked about the call only.
    const run = await runCli(["run", "go", "--trust", "--model", `sim:${await script(echo)}`], {
      cwd: project,
      env,
      tty: true,
      stdin: ["n not there"],
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("✗ denied bash: The user denied this tool call: not there");
  });

  it("denies without asking when there is no terminal, unless the mode allows", async () => {
    const piped = await runCli(["run", "go", "--model", `sim:${await script(echo)}`], {
      cwd: project,
      env,
      tty: false,
    });
    expect(piped.stderr).toContain("✗ denied bash: This tool call needs approval");
    const bypass = await runCli(
      ["run", "go", "--model", `sim:${await script(echo)}`, "--permission-mode", "bypassPermissions"],
      { cwd: project, env, tty: false },
    );
    expect(bypass.stderr).toMatch(/⎿ bash: hi/);
    const allowed = await runCli(
      ["run", "go", "--model", `sim:${await script(echo)}`, "--allow", "Bash(echo *)"],
      { cwd: project, env, tty: false },
    );
    expect(allowed.stderr).toMatch(/⎿ bash: hi/);
  });

  it("asks ask_user questions inline", async () => {
    const steps = [
      {
        toolCalls: [
          { name: "ask_user", arguments: { question: "Which env?", options: ["staging", "prod"] } },
        ],
      },
      { text: "ok" },
    ];
    const run = await runCli(["run", "go", "--trust", "--model", `sim:${await script(steps)}`], {
      cwd: project,
      env,
      tty: true,
      stdin: ["staging"],
    });
    expect(run.stderr).toContain("? Which env? [staging / prod]\n> ");
    expect(run.stderr).toMatch(/⎿ ask_user: The user answered: staging/);
  });

  it("rejects an unknown --permission-mode", async () => {
    const run = await runCli(["run", "go", "--permission-mode", "yolo"], { cwd: project, env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--permission-mode must be one of/);
  });
});
