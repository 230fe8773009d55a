import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { check, policyOf, type Sandbox, sandbox } from "../../test/helpers/permissions.ts";
import { ruleProgram } from "./hidden-launch.ts";
import { type PermissionRule, parseRule } from "./rules.ts";

let box: Sandbox;
beforeAll(async () => {
  box = await sandbox();
});
afterAll(() => box.cleanup());

const decide = async (deny: string[], command: string, ask: string[] = []) =>
  (await check(policyOf(box, { cli: { allow: ["Bash"], deny, ask } }), "Bash", { command }, box.project))
    .decision;

const rule = (text: string) =>
  parseRule(text, { list: "deny", source: "cli", origin: "test" }) as PermissionRule;

describe("deny and ask rules against launchers no table knows", () => {
  it("reads the one program a rule names", () => {
    expect(ruleProgram(rule("Bash(rm:*)"))).toBe("rm");
    expect(ruleProgram(rule("Bash(rm -rf *)"))).toBe("rm");
    expect(ruleProgram(rule("Bash(rm)"))).toBe("rm");
    expect(ruleProgram(rule("Bash(git push:*)"))).toBe("git");
    expect(ruleProgram(rule("Bash(r*:*)"))).toBeUndefined();
    expect(ruleProgram(rule("Bash"))).toBeUndefined();
  });

  it.each([
    "heaptrack rm -rf victim",
    "chpst -u me rm x",
    "perf stat rm x",
    "systemd-nspawn /bin/rm x",
    "sg staff -c 'rm -rf victim'",
    "docker exec web rm -rf /data",
    "ssh prod rm -rf /srv",
  ])("asks for %s when rm is denied", async (command) => {
    expect(await decide(["Bash(rm:*)"], command)).toBe("ask");
  });

  it("asks the same way for an ask rule, and leaves the rule's own program to the rule", async () => {
    expect(await decide([], "heaptrack rm x", ["Bash(rm:*)"])).toBe("ask");
    expect(await decide(["Bash(rm:*)"], "rm x")).toBe("deny");
    expect(await decide(["Bash(rm:*)"], "sudo rm x")).toBe("deny");
  });

  it.each([
    "grep -rn rm src",
    "echo rm",
    "git rm --cached notes.txt",
    "man rm",
    "which rm",
    "ls rm",
    "heaptrack ls",
  ])(
    "leaves %s allowed (its program never starts its arguments, or no denied program is among them)",
    async (command) => {
      expect(await decide(["Bash(rm:*)"], command)).toBe("allow");
    },
  );

  it("does nothing without a deny or ask rule", async () => {
    expect(await decide([], "heaptrack rm x")).toBe("allow");
  });
});
