import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { check, type Layers, policyOf, type Sandbox, sandbox } from "../../test/helpers/permissions.ts";
import type { PermissionMode } from "./modes.ts";

let box: Sandbox;
let sub: string;
beforeAll(async () => {
  box = await sandbox();
  sub = join(box.project, "sub");
  await mkdir(join(box.project, "src", "deep"), { recursive: true });
  await mkdir(join(box.project, "config"), { recursive: true });
  await mkdir(sub);
  await mkdir(join(box.home, ".ssh"));
  await writeFile(join(box.outside, "secret.txt"), "s");
  await writeFile(join(box.project, "src", "a.ts"), "a");
  // A link inside the project that points outside it, and a linked directory.
  await symlink(join(box.outside, "secret.txt"), join(box.project, "link.txt"));
  await symlink(box.outside, join(box.project, "linkdir"));
});
afterAll(() => box.cleanup());

type Row = readonly [
  rules: Layers["cli"],
  tool: "Read" | "Edit",
  path: string,
  expected: "allow" | "deny" | "ask",
];

async function decide(
  rules: Layers["cli"],
  tool: string,
  path: string,
  cwd = box.project,
  mode?: PermissionMode,
) {
  return check(policyOf(box, { cli: rules ?? {} }, mode ? { mode } : {}), tool, { path }, cwd);
}

describe("Read and Edit anchors", () => {
  const rows = (): Row[] => [
    // inside the working directory reads run; edits ask
    [{}, "Read", "src/a.ts", "allow"],
    [{}, "Read", join(box.outside, "secret.txt"), "ask"],
    [{}, "Edit", "src/a.ts", "ask"],
    // ./ anchors to the cwd; a bare name matches at any depth (gitignore)
    [{ deny: ["Read(./.env)"] }, "Read", ".env", "deny"],
    [{ deny: ["Read(./.env)"] }, "Read", "src/.env", "allow"],
    [{ deny: ["Read(.env)"] }, "Read", "src/deep/.env", "deny"],
    [{ deny: ["Read(*.key)"] }, "Read", "src/deep/server.key", "deny"],
    [{ allow: ["Edit(./src/**)"] }, "Edit", "src/deep/new.ts", "allow"],
    [{ allow: ["Edit(./src/**)"] }, "Edit", "other/new.ts", "ask"],
    [{ allow: ["Edit(src/**/*.ts)"] }, "Edit", "src/deep/x.ts", "allow"],
    [{ allow: ["Edit(src/**/*.ts)"] }, "Edit", "src/deep/x.js", "ask"],
    [{ allow: ["Edit(./src/*)"] }, "Edit", "src/a.ts", "allow"],
    [{ allow: ["Edit(./src/*.ts)"] }, "Edit", "src/deep/x.ts", "ask"],
    // // is absolute, ~/ is home
    [{ allow: [`Read(/${box.outside}/**)`] }, "Read", join(box.outside, "secret.txt"), "allow"],
    [{ deny: ["Read(~/.ssh/**)"] }, "Read", "~/.ssh/id_rsa", "deny"],
    [{ deny: ["Read(~/.ssh/**)"] }, "Read", join(box.home, ".ssh", "id_rsa"), "deny"],
    [{ allow: ["Read(~/notes/**)"] }, "Read", join(box.home, "notes", "a.md"), "allow"],
    // Edit rules do not cover reads, Read rules do not cover edits
    [{ deny: ["Edit(./src/**)"] }, "Read", "src/a.ts", "allow"],
    [{ allow: ["Read(./**)"] }, "Edit", "src/a.ts", "ask"],
    // bare tool names match every path
    [{ allow: ["Edit"] }, "Edit", join(box.outside, "x"), "allow"],
    [{ deny: ["Read"] }, "Read", "src/a.ts", "deny"],
  ];
  it("matches the table", async () => {
    for (const [rules, tool, path, expected] of rows()) {
      const got = (await decide(rules, tool, path)).decision;
      expect({ rules, tool, path, got }).toEqual({ rules, tool, path, got: expected });
    }
  });

  it("anchors / to the project root, not the cwd", async () => {
    const rules = { deny: ["Edit(/config/**)"] };
    expect((await decide(rules, "Edit", "../config/app.json", sub)).decision).toBe("deny");
    expect((await decide(rules, "Edit", "config/app.json", sub)).decision).toBe("ask");
    const cwdRules = { deny: ["Edit(./config/**)"] };
    expect((await decide(cwdRules, "Edit", "../config/app.json", sub)).decision).toBe("ask");
    expect((await decide(cwdRules, "Edit", "config/app.json", sub)).decision).toBe("deny");
  });

  it("rejects rules that climb out with ../", () => {
    expect(() => policyOf(box, { project: { deny: ["Read(../x)"] } })).toThrow(
      /permissions.deny\[0\].*climbs out/,
    );
  });
});

describe("symlinks", () => {
  it("resolves a link before the working-directory default applies", async () => {
    expect((await decide({}, "Read", "link.txt")).decision).toBe("ask");
    expect((await decide({}, "Read", "linkdir/secret.txt")).decision).toBe("ask");
  });

  it("lets deny rules catch the target through a link", async () => {
    const rules = { deny: [`Read(/${box.outside}/**)`] };
    expect((await decide(rules, "Read", "link.txt")).decision).toBe("deny");
    expect((await decide(rules, "Read", "linkdir/new-file")).decision).toBe("deny");
  });

  it("lets deny rules catch the link as written", async () => {
    expect((await decide({ deny: ["Read(./link.txt)"] }, "Read", "link.txt")).decision).toBe("deny");
  });

  it("does not let an allow rule pass a link to a target it does not cover", async () => {
    expect((await decide({ allow: ["Edit(./**)"] }, "Edit", "link.txt")).decision).toBe("ask");
    expect((await decide({ allow: ["Edit(./**)"] }, "Edit", "src/a.ts")).decision).toBe("allow");
  });

  it("resolves redirect targets of Bash commands the same way", async () => {
    const policy = policyOf(box, { cli: { allow: ["Bash", "Edit(./**)"] } });
    expect((await check(policy, "Bash", { command: "echo x > link.txt" }, box.project)).decision).toBe("ask");
    expect((await check(policy, "Bash", { command: "echo x > notes.txt" }, box.project)).decision).toBe(
      "allow",
    );
  });
});

describe("Read and Edit under each mode", () => {
  const inside = "src/a.ts";
  const table = (): readonly [PermissionMode, Layers["cli"], "Read" | "Edit", string, string][] => [
    ["default", {}, "Edit", inside, "ask"],
    ["acceptEdits", {}, "Edit", inside, "allow"],
    ["acceptEdits", {}, "Edit", join(box.outside, "x"), "ask"],
    ["acceptEdits", { ask: ["Edit(./src/**)"] }, "Edit", inside, "ask"],
    ["acceptEdits", { deny: ["Edit(./src/**)"] }, "Edit", inside, "deny"],
    ["plan", {}, "Edit", inside, "deny"],
    ["plan", { allow: ["Edit"] }, "Edit", inside, "deny"],
    ["plan", {}, "Read", inside, "allow"],
    ["plan", {}, "Read", join(box.outside, "secret.txt"), "ask"],
    ["dontAsk", {}, "Edit", inside, "deny"],
    ["dontAsk", {}, "Read", inside, "allow"],
    ["dontAsk", {}, "Read", join(box.outside, "secret.txt"), "deny"],
    ["dontAsk", { allow: ["Edit(./src/**)"] }, "Edit", inside, "allow"],
    ["bypassPermissions", {}, "Edit", join(box.outside, "x"), "allow"],
    ["bypassPermissions", { deny: ["Edit(./src/**)"] }, "Edit", inside, "deny"],
    ["bypassPermissions", { ask: ["Edit(./src/**)"] }, "Edit", inside, "ask"],
  ];
  it("matches the table", async () => {
    for (const [mode, rules, tool, path, expected] of table()) {
      const got = (await decide(rules, tool, path, box.project, mode)).decision;
      expect({ mode, rules, tool, path, got }).toEqual({ mode, rules, tool, path, got: expected });
    }
  });

  it("treats additionalDirectories as working directories", async () => {
    const policy = policyOf(box, { project: { additionalDirectories: [box.outside] } });
    expect(
      (await check(policy, "Read", { path: join(box.outside, "secret.txt") }, box.project)).decision,
    ).toBe("allow");
    const edits = policyOf(
      box,
      { project: { additionalDirectories: [box.outside] } },
      { mode: "acceptEdits" },
    );
    expect((await check(edits, "Edit", { path: join(box.outside, "x") }, box.project)).decision).toBe(
      "allow",
    );
  });

  it("suggests the file's directory for edits", async () => {
    expect((await decide({}, "Edit", "src/deep/x.ts")).suggestions).toEqual(["Edit(./src/deep/**)"]);
    expect((await decide({}, "Edit", "top.txt")).suggestions).toEqual(["Edit(./top.txt)"]);
    expect((await decide({}, "Edit", join(box.outside, "x"))).suggestions).toEqual([
      `Edit(/${box.outside}/**)`,
    ]);
  });
});
