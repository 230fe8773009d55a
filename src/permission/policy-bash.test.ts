import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { check, type Layers, policyOf, type Sandbox, sandbox } from "../../test/helpers/permissions.ts";
import type { PermissionMode } from "./modes.ts";

let box: Sandbox;
beforeAll(async () => {
  box = await sandbox();
});
afterAll(() => box.cleanup());

type Row = readonly [rules: Layers["cli"], command: string, expected: "allow" | "deny" | "ask"];

async function decide(rules: Layers["cli"], command: string, mode?: PermissionMode) {
  const policy = policyOf(box, { cli: rules ?? {} }, mode ? { mode } : {});
  return check(policy, "Bash", { command }, box.project);
}

const wildcards: Row[] = [
  [{ allow: ["Bash(npm run build)"] }, "npm run build", "allow"],
  [{ allow: ["Bash(npm run build)"] }, "npm run build --prod", "ask"],
  [{ allow: ["Bash(npm run build)"] }, "npm  run   build", "allow"],
  [{ allow: ["Bash(npm run test:*)"] }, "npm run test", "allow"],
  [{ allow: ["Bash(npm run test:*)"] }, "npm run test -- x", "allow"],
  [{ allow: ["Bash(npm run test:*)"] }, "npm run test:unit", "ask"],
  [{ allow: ["Bash(npm run test *)"] }, "npm run test", "allow"],
  [{ allow: ["Bash(npm run test *)"] }, "npm run test --watch", "allow"],
  [{ allow: ["Bash(npm run test *)"] }, "npm run testing", "ask"],
  [{ allow: ["Bash(ls *)"] }, "ls -la", "allow"],
  [{ allow: ["Bash(ls *)"] }, "lsof", "ask"],
  [{ allow: ["Bash(ls*)"] }, "lsof -i", "allow"],
  [{ allow: ["Bash(ls*)"] }, "ls", "allow"],
  [{ allow: ["Bash(git * main)"] }, "git checkout main", "allow"],
  [{ allow: ["Bash(git * main)"] }, "git checkout dev", "ask"],
  [{ allow: ["Bash(* --version)"] }, "node --version", "allow"],
  [{ allow: ["Bash(* --version)"] }, "node --help", "ask"],
  [{ allow: ["Bash"] }, "anything at all", "allow"],
  [{ allow: ["Bash(*)"] }, "anything at all", "allow"],
  [{ allow: ["Bash(echo *)"] }, 'echo "a && b; c | d"', "allow"],
];

const compound: Row[] = [
  [{ allow: ["Bash(npm test:*)"] }, "npm test && rm -rf /", "ask"],
  [{ allow: ["Bash(npm test:*)", "Bash(rm:*)"] }, "npm test && rm -rf /", "allow"],
  [{ allow: ["Bash(a)", "Bash(b)"] }, "a || b", "allow"],
  [{ allow: ["Bash(a)"] }, "a || b", "ask"],
  [{ allow: ["Bash(a)"] }, "a; b", "ask"],
  [{ allow: ["Bash(a)"] }, "a | b", "ask"],
  [{ allow: ["Bash(a)"] }, "a |& b", "ask"],
  [{ allow: ["Bash(a)"] }, "a & b", "ask"],
  [{ allow: ["Bash(a)"] }, "a\nb", "ask"],
  [{ allow: ["Bash(a)", "Bash(b)"] }, "a\nb", "allow"],
  [{ allow: ["Bash(a)"] }, "(a)", "allow"],
  [{ allow: ["Bash(a)"] }, "if a; then b; fi", "ask"],
  [{ allow: ["Bash"], deny: ["Bash(rm *)"] }, "npm test; rm x", "deny"],
  [{ allow: ["Bash"], deny: ["Bash(rm *)"] }, "for f in *; do rm $f; done", "deny"],
  [{ allow: ["Bash"], deny: ["Bash(rm *)"] }, "f() { rm -rf /; }; f", "deny"],
];

const substitutions: Row[] = [
  [{ allow: ["Bash(echo *)"] }, "echo $(whoami)", "ask"],
  [{ allow: ["Bash(echo *)", "Bash(whoami)"] }, "echo $(whoami)", "allow"],
  [{ allow: ["Bash(echo *)"] }, "echo `whoami`", "ask"],
  [{ allow: ["Bash(echo *)", "Bash(whoami)"] }, "echo `whoami`", "allow"],
  [{ allow: ["Bash(diff *)", "Bash(ls *)"] }, "diff <(ls a) <(ls b)", "allow"],
  [{ allow: ["Bash(diff *)"] }, "diff <(ls a) <(cat b)", "ask"],
  [{ allow: ["Bash"], deny: ["Bash(rm *)"] }, 'echo "$(rm -rf /)"', "deny"],
  [{ allow: ["Bash"], deny: ["Bash(rm *)"] }, "X=$(rm -rf /) ls", "deny"],
  [{ allow: ["Bash"], deny: ["Bash(rm *)"] }, "cat <<EOF\n$(rm -rf /)\nEOF", "deny"],
  [{ allow: ["Bash(bash -c *)"] }, "bash -c 'rm -rf /'", "ask"],
  [{ allow: ["Bash"], deny: ["Bash(rm *)"] }, "sh -c 'cd x && rm -rf y'", "deny"],
  [{ allow: ["Bash"], deny: ["Bash(rm *)"] }, "eval rm -rf y", "deny"],
];

const wrappers: Row[] = [
  [{ allow: ["Bash(npm test:*)"] }, "timeout 10 npm test", "allow"],
  [{ allow: ["Bash(npm test:*)"] }, "timeout -s KILL --preserve-status 10 npm test", "allow"],
  [{ allow: ["Bash(npm test:*)"] }, "time npm test", "allow"],
  [{ allow: ["Bash(npm test:*)"] }, "nice -n 5 npm test", "allow"],
  [{ allow: ["Bash(npm test:*)"] }, "nice -5 npm test", "allow"],
  [{ allow: ["Bash(npm test:*)"] }, "nohup npm test", "allow"],
  [{ allow: ["Bash(npm test:*)"] }, "stdbuf -oL -e L npm test", "allow"],
  [{ allow: ["Bash(npm test:*)"] }, "command npm test", "allow"],
  [{ allow: ["Bash(npm test:*)"] }, "FOO=1 BAR='two words' npm test", "allow"],
  [{ allow: ["Bash(npm test:*)"] }, "FOO=1 timeout 5 nice nohup npm test", "allow"],
  [{ allow: ["Bash(npm test:*)"] }, "command -v npm", "ask"],
  [{ allow: ["Bash"], deny: ["Bash(rm:*)"] }, "timeout 5 rm -rf x", "deny"],
  [{ allow: ["Bash"], deny: ["Bash(rm:*)"] }, "LANG=C nohup rm -rf x", "deny"],
];

const redirects: Row[] = [
  [{ allow: ["Bash(echo *)"] }, "echo hi > out.txt", "ask"],
  [{ allow: ["Bash(echo *)", "Edit(./out.txt)"] }, "echo hi > out.txt", "allow"],
  [{ allow: ["Bash(echo *)", "Edit(./out.txt)"] }, "echo hi >> out.txt", "allow"],
  [{ allow: ["Bash(echo *)", "Edit(./out.txt)"] }, "echo hi > other.txt", "ask"],
  [{ allow: ["Bash", "Edit"], deny: ["Edit(./secret/**)"] }, "echo x > secret/a", "deny"],
  [{ allow: ["Bash", "Edit"], deny: ["Edit(./secret/**)"] }, "echo x &> secret/a", "deny"],
  [{ allow: ["Bash(cmd)"] }, "cmd 2>/dev/null", "allow"],
  [{ allow: ["Bash(cmd)"] }, "cmd >&2 2>&1", "allow"],
  [{ allow: ["Bash", "Edit"] }, "echo x > $TARGET", "allow"],
  [{ allow: ["Bash"] }, "echo x > $TARGET", "ask"],
  [{ allow: ["Bash(cat)"] }, "cat < notes.txt", "allow"],
  [{ allow: ["Bash(cat)"], deny: ["Read(./notes.txt)"] }, "cat < notes.txt", "deny"],
];

const unparsed: Row[] = [
  [{ allow: ["Bash(echo *)"] }, "echo 'unterminated", "ask"],
  [{ allow: ["Bash"] }, "echo 'unterminated", "ask"],
  [{ allow: ["Bash(echo 'unterminated)"] }, "echo 'unterminated", "allow"],
  [{ deny: ["Bash(echo *)"] }, "echo 'unterminated", "deny"],
];

describe("Bash rules", () => {
  for (const [name, rows] of Object.entries({
    wildcards,
    compound,
    substitutions,
    wrappers,
    redirects,
    unparsed,
  })) {
    describe(name, () => {
      it.each(rows)("%j: %j -> %s", async (rules, command, expected) => {
        expect((await decide(rules, command)).decision).toBe(expected);
      });
    });
  }

  it("reports the deciding rule, its source and the matching part", async () => {
    const decision = await decide({ allow: ["Bash"], deny: ["Bash(rm *)"] }, "npm test && rm -rf build");
    expect(decision).toMatchObject({
      decision: "deny",
      rule: "Bash(rm *)",
      source: "cli",
      origin: "cli.json",
      subject: "rm -rf build",
    });
    expect(decision.reason).toContain("matches deny rule Bash(rm *)");
  });

  it("suggests prefix rules for subcommands and exact rules otherwise", async () => {
    expect((await decide({}, "npm run test -- x")).suggestions).toEqual(["Bash(npm run test:*)"]);
    expect((await decide({}, "git commit -m 'x'")).suggestions).toEqual(["Bash(git commit:*)"]);
    expect((await decide({}, "rm -rf build")).suggestions).toEqual(["Bash(rm -rf build)"]);
    expect((await decide({}, "make")).suggestions).toEqual(["Bash(make:*)"]);
    expect(
      (await decide({ allow: ["Bash(npm test)"] }, "npm test && git push origin main")).suggestions,
    ).toEqual(["Bash(git push:*)"]);
    expect((await decide({ ask: ["Bash(git push *)"] }, "git push")).suggestions).toEqual([]);
  });
});

describe("Bash under each mode", () => {
  const table: readonly [PermissionMode, Layers["cli"], string, "allow" | "deny" | "ask"][] = [
    ["default", {}, "ls -la", "ask"],
    ["default", {}, "rm x", "ask"],
    ["acceptEdits", {}, "rm x", "ask"],
    ["acceptEdits", { allow: ["Bash(echo *)"] }, "echo x > out.txt", "allow"],
    ["plan", {}, "ls -la", "ask"],
    ["plan", { allow: ["Bash(ls *)"] }, "ls -la && git status", "ask"],
    ["plan", { allow: ["Bash(ls *)", "Bash(git status)"] }, "ls -la && git status", "allow"],
    ["plan", { allow: ["Bash(rm *)"] }, "rm x", "deny"],
    ["plan", { allow: ["Bash"] }, "echo x > out.txt", "deny"],
    ["plan", { allow: ["Bash"] }, "find . -delete", "deny"],
    ["dontAsk", {}, "npm test", "deny"],
    ["dontAsk", { allow: ["Bash(npm test)"] }, "npm test", "allow"],
    ["dontAsk", { ask: ["Bash(npm test)"] }, "npm test", "deny"],
    ["bypassPermissions", {}, "rm -rf build", "allow"],
    ["bypassPermissions", {}, "echo x > /etc/passwd", "allow"],
    ["bypassPermissions", { deny: ["Bash(rm *)"] }, "rm -rf build", "deny"],
    ["bypassPermissions", { ask: ["Bash(git push *)"] }, "git push origin", "ask"],
  ];
  it.each(table)("%s %j %j -> %s", async (mode, rules, command, expected) => {
    expect((await decide(rules, command, mode)).decision).toBe(expected);
  });
});

describe("command check seam", () => {
  const run = (verdict: "allow" | "ask" | "deny", rules: Layers["cli"], mode?: PermissionMode) => {
    const seen: string[] = [];
    const policy = policyOf(
      box,
      { cli: rules ?? {} },
      {
        ...(mode ? { mode } : {}),
        commandCheck: (command) => {
          seen.push(command);
          return { verdict, category: "destructive", reason: "deletes files" };
        },
      },
    );
    return { seen, decision: check(policy, "Bash", { command: "rm -rf / && ls" }, box.project) };
  };

  it("denies before any rule, even an allow rule in bypass mode", async () => {
    const { seen, decision } = run("deny", { allow: ["Bash"] }, "bypassPermissions");
    expect(await decision).toMatchObject({ decision: "deny", source: "command_check", rule: "destructive" });
    expect(seen).toEqual(["rm -rf / && ls"]);
  });

  it("turns an allowed command into a question without suggestions", async () => {
    expect(await run("ask", { allow: ["Bash"] }).decision).toMatchObject({
      decision: "ask",
      source: "command_check",
      suggestions: [],
    });
  });

  it("never softens a deny rule", async () => {
    expect((await run("ask", { deny: ["Bash(rm *)"] }).decision).decision).toBe("deny");
  });

  it("leaves the decision to the rules when it has no objection", async () => {
    expect((await run("allow", { allow: ["Bash"] }).decision).decision).toBe("allow");
    expect((await run("allow", {}).decision).decision).toBe("ask");
  });

  it("asks when the check itself fails", async () => {
    const policy = policyOf(
      box,
      { cli: { allow: ["Bash"] } },
      {
        commandCheck: () => {
          throw new Error("boom");
        },
      },
    );
    const decision = await check(policy, "Bash", { command: "ls" }, box.project);
    expect(decision).toMatchObject({ decision: "ask", source: "command_check" });
    expect(decision.reason).toContain("boom");
  });
});
