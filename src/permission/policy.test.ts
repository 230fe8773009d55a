import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  check,
  type Layers,
  policyOf,
  type Sandbox,
  sandbox,
  toolFacts,
} from "../../test/helpers/permissions.ts";
import type { ToolFacts } from "./identity.ts";
import { PermissionPolicy } from "./policy.ts";

let box: Sandbox;
beforeAll(async () => {
  box = await sandbox();
});
afterAll(() => box.cleanup());

const decide = async (layers: Layers, tool: string | ToolFacts, input: unknown) =>
  check(policyOf(box, layers), tool, input, box.project);

describe("WebFetch domains", () => {
  const table: readonly [string, string, string][] = [
    ["WebFetch(domain:example.com)", "https://example.com/a", "allow"],
    ["WebFetch(domain:example.com)", "https://EXAMPLE.com./a", "allow"],
    ["WebFetch(domain:Example.COM.)", "http://example.com:8080/", "allow"],
    ["WebFetch(domain:example.com)", "https://api.example.com/", "ask"],
    ["WebFetch(domain:example.com)", "https://example.com.evil.org/", "ask"],
    ["WebFetch(domain:*.example.com)", "https://api.example.com/", "allow"],
    ["WebFetch(domain:*.example.com)", "https://a.b.example.com/", "allow"],
    ["WebFetch(domain:*.example.com)", "https://example.com/", "ask"],
    ["WebFetch(domain:*.example.com)", "https://badexample.com/", "ask"],
    ["Network(domain:example.org)", "https://example.org/", "allow"],
    ["WebFetch(domain:bücher.de)", "https://xn--bcher-kva.de/", "allow"],
    ["WebFetch(domain:*)", "https://anything.net/", "allow"],
    ["WebFetch", "https://anything.net/", "allow"],
    ["WebFetch(domain:example.com)", "not a url", "ask"],
    ["WebFetch(domain:example.com)", "file:///etc/passwd", "ask"],
  ];
  it.each(table)("allow %s, fetch %s -> %s", async (rule, url, expected) => {
    expect((await decide({ cli: { allow: [rule] } }, "WebFetch", { url })).decision).toBe(expected);
  });

  it("denies across aliases and suggests the host", async () => {
    expect(
      (
        await decide({ user: { deny: ["Network(domain:evil.org)"] } }, "WebFetch", {
          url: "https://evil.org",
        })
      ).decision,
    ).toBe("deny");
    expect((await decide({}, "WebFetch", { url: "https://Docs.Example.com/x" })).suggestions).toEqual([
      "WebFetch(domain:docs.example.com)",
    ]);
  });

  it("rejects specifiers that are not domain:HOST", () => {
    expect(() => policyOf(box, { project: { allow: ["WebFetch(example.com)"] } })).toThrow(
      /expected domain:HOST/,
    );
    expect(() => policyOf(box, { project: { allow: ["WebFetch(domain:a.*.com)"] } })).toThrow(/leading/);
  });
});

describe("MCP, Skill and other tools", () => {
  const mcp = (name: string): ToolFacts => ({ name, readOnly: false });
  const table: readonly [string, string, string][] = [
    ["mcp__github", "mcp__github__create_issue", "allow"],
    ["mcp__github", "mcp__githubx__create_issue", "ask"],
    ["mcp__github", "mcp__gitlab__create_issue", "ask"],
    ["mcp__github__*", "mcp__github__create_issue", "allow"],
    ["mcp__github__list_*", "mcp__github__list_repos", "allow"],
    ["mcp__github__list_*", "mcp__github__delete_repo", "ask"],
    ["mcp__github__get_issue", "mcp__github__get_issue", "allow"],
    ["mcp__github__get_issue", "mcp__github__get_issues", "ask"],
  ];
  it.each(table)("allow %s, call %s -> %s", async (rule, tool, expected) => {
    expect((await decide({ cli: { allow: [rule] } }, mcp(tool), {})).decision).toBe(expected);
  });

  it("rejects specifiers on MCP rules and wildcards elsewhere", () => {
    expect(() => policyOf(box, { cli: { allow: ["mcp__github(x)"] } })).toThrow(
      /MCP rules take no specifier/,
    );
    expect(() => policyOf(box, { cli: { allow: ["Ba*sh"] } })).toThrow(/only allowed for mcp__/);
    expect(() => policyOf(box, { cli: { allow: ["Bash(ls"] } })).toThrow(/without a closing/);
    expect(() => policyOf(box, { cli: { allow: ["Bash()"] } })).toThrow(/empty specifier/);
  });

  it("refuses a rule name that is a typo of one, so a deny rule cannot silently protect nothing", async () => {
    for (const rule of ["Bahs(rm:*)", "BASH(rm:*)", "Reed(./.env)", "Edti"])
      expect(() => policyOf(box, { cli: { deny: [rule] } }), rule).toThrow(/no rule is named .*did you mean/);
    // Claude Code's names apply as the rules they stand for.
    const write = await decide({ cli: { allow: ["Edit"], deny: ["Write(secret.txt)"] } }, toolFacts("Edit"), {
      path: "secret.txt",
    });
    expect(write.decision).toBe("deny");
    const grep = await decide({ cli: { deny: ["Grep(secret.txt)"] } }, toolFacts("Read"), {
      path: "secret.txt",
    });
    expect(grep.decision).toBe("deny");
    // A host's own tool name is its own business; Claude Code's other tools are accepted.
    expect(() =>
      policyOf(box, { cli: { deny: ["Deploy(prod)", "deploy", "Task", "WebSearch"] } }),
    ).not.toThrow();
  });

  it("matches skills by name, with arguments behind a word boundary", async () => {
    const skill = toolFacts("Skill");
    expect((await decide({ cli: { allow: ["Skill(deploy)"] } }, skill, { name: "deploy" })).decision).toBe(
      "allow",
    );
    expect(
      (await decide({ cli: { allow: ["Skill(deploy)"] } }, skill, { name: "deploy-prod" })).decision,
    ).toBe("ask");
    const args = { cli: { allow: ["Skill(review *)"] } };
    expect((await decide(args, skill, { name: "review" })).decision).toBe("allow");
    expect((await decide(args, skill, { name: "review", args: "--pr 12" })).decision).toBe("allow");
    expect((await decide(args, skill, { name: "reviewer" })).decision).toBe("ask");
    expect((await decide({}, skill, { name: "deploy" })).suggestions).toEqual(["Skill(deploy)"]);
    const builtin: ToolFacts = { name: "call_skill", readOnly: false };
    expect((await decide({ cli: { deny: ["Skill(deploy)"] } }, builtin, { name: "deploy" })).decision).toBe(
      "deny",
    );
  });

  it("matches any other tool by its name", async () => {
    const tool: ToolFacts = { name: "send_email", readOnly: false };
    expect((await decide({}, tool, { to: "x" })).decision).toBe("ask");
    expect((await decide({}, tool, { to: "x" })).suggestions).toEqual(["send_email"]);
    expect((await decide({ cli: { allow: ["send_email"] } }, tool, {})).decision).toBe("allow");
    expect((await decide({ cli: { deny: ["send_email"] } }, tool, {})).decision).toBe("deny");
    expect((await decide({}, { name: "lookup", readOnly: true }, {})).decision).toBe("allow");
  });

  it("applies rules naming a built-in tool's own name as well as its rule name", async () => {
    const bash: ToolFacts = { name: "bash", readOnly: false };
    expect((await decide({ cli: { allow: ["bash"] } }, bash, { command: "ls" })).decision).toBe("allow");
    expect((await decide({ cli: { allow: ["Bash(ls)"] } }, bash, { command: "ls" })).decision).toBe("allow");
    const declared: ToolFacts = {
      name: "sh_run",
      readOnly: false,
      permission: { rule: "Bash", field: "script" },
    };
    expect((await decide({ cli: { deny: ["Bash(rm *)"] } }, declared, { script: "rm -rf /" })).decision).toBe(
      "deny",
    );
    const patch: ToolFacts = {
      name: "multi_edit",
      readOnly: false,
      permission: { rule: "Edit", subjects: (input) => (input as { files: string[] }).files },
    };
    const rules = { cli: { allow: ["Edit(./src/**)"] } };
    expect((await decide(rules, patch, { files: ["src/a.ts", "src/b.ts"] })).decision).toBe("allow");
    expect((await decide(rules, patch, { files: ["src/a.ts", "package.json"] })).decision).toBe("ask");
  });
});

describe("sources and precedence", () => {
  const bash = (command: string) => ({ command });

  it("lets a deny at any level win over allows elsewhere", async () => {
    for (const level of ["managed", "cli", "local", "project", "user"] as const) {
      const layers: Layers = {
        managed: { allow: ["Bash"] },
        cli: { allow: ["Bash"] },
        [level]: { deny: ["Bash(rm *)"] },
      };
      const decision = await decide(layers, "Bash", bash("rm x"));
      expect({ level, decision: decision.decision, source: decision.source }).toEqual({
        level,
        decision: "deny",
        source: level,
      });
    }
  });

  it("lets an ask anywhere beat an allow anywhere, and reports the highest source", async () => {
    expect(
      (
        await decide(
          { cli: { allow: ["Bash(git push:*)"] }, user: { ask: ["Bash(git push *)"] } },
          "Bash",
          bash("git push"),
        )
      ).decision,
    ).toBe("ask");
    const both = await decide(
      { managed: { allow: ["Bash(ls)"] }, user: { allow: ["Bash(ls)"] } },
      "Bash",
      bash("ls"),
    );
    expect(both).toMatchObject({ decision: "allow", source: "managed", origin: "managed.json" });
  });

  it("takes defaultMode from the highest layer that sets it, and the explicit mode over all", async () => {
    const layers: Layers = { user: { defaultMode: "plan" }, project: { defaultMode: "acceptEdits" } };
    expect(policyOf(box, layers).defaultMode).toBe("acceptEdits");
    expect(policyOf(box, { ...layers, local: { defaultMode: "dontAsk" } }).defaultMode).toBe("dontAsk");
    expect(policyOf(box, layers, { mode: "default" }).defaultMode).toBe("default");
  });

  it("refuses bypassPermissions when settings disable it", () => {
    const policy = policyOf(
      box,
      { managed: { disableBypassPermissionsMode: "disable" } },
      { mode: "bypassPermissions" },
    );
    expect(policy.defaultMode).toBe("default");
    expect(policy.warnings).toEqual(["bypassPermissions mode is disabled by settings; using default mode"]);
    expect(policy.checkMode("bypassPermissions")).toEqual({
      ok: false,
      message: "bypassPermissions mode is disabled by settings",
    });
    expect(policy.checkMode("plan")).toEqual({ ok: true, mode: "plan" });
    expect(policy.checkMode("yolo")).toEqual({ ok: false, message: 'unknown permission mode "yolo"' });
  });

  it("adds session rules that allow later calls, without duplicates", async () => {
    const policy = policyOf(box, {});
    expect((await check(policy, "Bash", bash("npm test"), box.project)).decision).toBe("ask");
    expect(policy.addSessionRules(["Bash(npm test:*)", "Bash(npm test:*)", "Bash("])).toEqual([
      "Bash(npm test:*)",
    ]);
    expect(await check(policy, "Bash", bash("npm test -- x"), box.project)).toMatchObject({
      decision: "allow",
      source: "session",
    });
  });
});

describe("settings discovery", () => {
  it("reads managed, extra, local, project and user files with their precedence", async () => {
    const project = join(box.root, "disc", "repo");
    const cwd = join(project, "pkg");
    await mkdir(join(project, ".taifeng"), { recursive: true });
    await mkdir(cwd, { recursive: true });
    await mkdir(join(box.home, ".taifeng"), { recursive: true });
    const managed = join(box.root, "disc", "managed.json");
    const extra = join(box.root, "disc", "extra.json");
    const write = (path: string, permissions: object) =>
      writeFile(path, JSON.stringify({ permissions, env: { X: 1 } }));
    await write(managed, { deny: ["Bash(curl *)"] });
    await write(extra, { allow: ["Bash(make:*)"] });
    await write(join(project, ".taifeng", "settings.local.json"), {
      allow: ["Bash(npm test)"],
      defaultMode: "acceptEdits",
    });
    await write(join(project, ".taifeng", "settings.json"), { ask: ["Bash(npm test)"], defaultMode: "plan" });
    await write(join(box.home, ".taifeng", "settings.json"), { allow: ["Bash(curl *)"] });
    const policy = await PermissionPolicy.discover({
      cwd,
      env: { HOME: box.home, TAIFENG_MANAGED_SETTINGS: managed },
      extraFiles: [extra],
      projectTrust: true,
    });
    expect(policy.projectRoot).toBe(project);
    expect(policy.defaultMode).toBe("acceptEdits");
    expect(policy.allRules.map((r) => `${r.source}:${r.list}:${r.text}`)).toEqual([
      "managed:deny:Bash(curl *)",
      "cli:allow:Bash(make:*)",
      "local:allow:Bash(npm test)",
      "project:ask:Bash(npm test)",
      "user:allow:Bash(curl *)",
    ]);
    const run = (command: string) => policy.evaluate({ tool: toolFacts("Bash"), input: { command }, cwd });
    expect((await run("curl x")).decision).toBe("deny");
    expect((await run("npm test")).decision).toBe("ask");
    expect((await run("make all")).decision).toBe("allow");
  });

  it("names the file and field of a malformed settings file", async () => {
    const dir = join(box.root, "bad");
    await mkdir(join(dir, ".taifeng"), { recursive: true });
    await writeFile(join(dir, ".taifeng", "settings.json"), '{"permissions": {"allow": "Bash"}}');
    await writeFile(join(dir, "managed.json"), "{}");
    const env = { HOME: box.home, TAIFENG_MANAGED_SETTINGS: join(dir, "managed.json") };
    await expect(PermissionPolicy.discover({ cwd: dir, env })).rejects.toThrow(
      new RegExp(`settings file ${join(dir, ".taifeng", "settings.json")}: permissions.allow`),
    );
    await writeFile(join(dir, ".taifeng", "settings.json"), "{ not json");
    await expect(PermissionPolicy.discover({ cwd: dir, env })).rejects.toThrow(/is not valid JSON/);
    await writeFile(
      join(dir, ".taifeng", "settings.json"),
      '{"permissions": {"deny": ["Bash(ls", "Read(../x)"]}}',
    );
    const err = await PermissionPolicy.discover({ cwd: dir, env }).catch((e: Error) => e);
    expect(String(err)).toContain("permissions.deny[0]");
    expect(String(err)).toContain("permissions.deny[1]");
    await expect(PermissionPolicy.discover({ cwd: dir, env, extraFiles: ["missing.json"] })).rejects.toThrow(
      /cannot read settings file/,
    );
  });
});

describe("policies per session", () => {
  it("forks without session rules", async () => {
    const base = policyOf(box, { cli: { allow: ["Bash(ls)"] } });
    base.addSessionRules(["Bash(make:*)"]);
    const fork = base.forSession();
    const run = (p: PermissionPolicy, command: string) => check(p, "Bash", { command }, box.project);
    expect((await run(base, "make all")).decision).toBe("allow");
    expect((await run(fork, "make all")).decision).toBe("ask");
    expect((await run(fork, "ls")).decision).toBe("allow");
  });
});
