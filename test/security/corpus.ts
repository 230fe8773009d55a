import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { CliIO } from "../../src/cli/io.ts";
import { permissionsCheckCommand } from "../../src/cli/permissions-command.ts";

/** The rule sets the corpora name, as settings files hold them. */
export const RULE_SETS: Readonly<Record<string, { allow?: string[]; deny?: string[]; mode?: string }>> = {
  bash: { allow: ["Bash"] },
  rm: { allow: ["Bash"], deny: ["Bash(rm:*)"] },
  touch: { allow: ["Bash"], deny: ["Bash(touch:*)"] },
  curl: { allow: ["Bash"], deny: ["Bash(curl:*)"] },
  gitdiff: { allow: ["Bash(git diff:*)"] },
  ls: { allow: ["Bash(ls:*)"] },
  edits: { allow: ["Bash(echo:*)", "Bash(cd:*)", "Bash(pushd:*)"], mode: "acceptEdits" },
  "bash-edits": { allow: ["Bash"], mode: "acceptEdits" },
};

const ESCAPES: Record<string, string> = { NL: "\n", TAB: "\t", CR: "\r", ESC: "\u001b" };

/** One corpus line. */
export interface Case {
  readonly line: number;
  readonly expected: string;
  readonly rules: string;
  readonly command: string;
  readonly note: string;
}

/** Reads a corpus file: tab-separated columns, `#` comments, `{{NL}}`-style escapes. */
export function readCorpus(
  file: string,
  columns: readonly ("expected" | "rules" | "command" | "note")[],
): Case[] {
  const text = readFileSync(new URL(file, import.meta.url), "utf8");
  const cases: Case[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "" || raw.startsWith("#")) return;
    const cells = raw.split("\t");
    const get = (name: (typeof columns)[number]) => cells[columns.indexOf(name)] ?? "";
    const command = get("command").replace(
      /\{\{(NL|TAB|CR|ESC)\}\}/g,
      (_m, k: string) => ESCAPES[k] as string,
    );
    const rules = get("rules");
    if (!command || !RULE_SETS[rules]) throw new Error(`${file} line ${i + 1} is malformed: ${raw}`);
    cases.push({ line: i + 1, expected: get("expected") || "allow", rules, command, note: get("note") });
  });
  return cases;
}

/** A project and home directory, with a settings file per rule set. */
export interface CheckBox {
  readonly root: string;
  readonly home: string;
  readonly project: string;
  check(command: string, rules: string, mode?: string): Promise<{ decision: string; reason: string }>;
  cleanup(): Promise<void>;
}

/**
 * Runs `taifeng permissions check` in process (the CLI's own function, with its settings
 * discovery and command defense) for Bash commands, in a throwaway project whose home
 * holds an `.ssh` key and a `.bashrc`, as a real one would.
 */
export async function checkBox(): Promise<CheckBox> {
  const root = await realpath(await mkdtemp(join(tmpdir(), "taifeng-security-")));
  const home = join(root, "home");
  const project = join(root, "project");
  await mkdir(join(home, ".ssh"), { recursive: true });
  await mkdir(join(project, ".git", "hooks"), { recursive: true });
  await writeFile(join(home, ".ssh", "id_rsa"), "not a real key\n");
  await writeFile(join(home, ".bashrc"), "# rc\n");
  const files: Record<string, string> = {};
  for (const [name, set] of Object.entries(RULE_SETS)) {
    const file = join(root, `${name}.json`);
    await writeFile(file, JSON.stringify({ permissions: { allow: set.allow ?? [], deny: set.deny ?? [] } }));
    files[name] = file;
  }
  return {
    root,
    home,
    project,
    async check(command, rules, mode) {
      const stdout = new PassThrough();
      let out = "";
      stdout.on("data", (d: Buffer) => (out += d.toString()));
      const io: CliIO = {
        stdin: new PassThrough(),
        stdout,
        stderr: new PassThrough(),
        env: { HOME: home },
        cwd: project,
        onInterrupt: () => () => {},
      };
      const set = RULE_SETS[rules];
      await permissionsCheckCommand(
        {
          tool: "Bash",
          input: JSON.stringify({ command }),
          settings: [files[rules] as string],
          json: true,
          ...((mode ?? set?.mode) ? { mode: mode ?? set?.mode } : {}),
        },
        io,
      );
      return JSON.parse(out) as { decision: string; reason: string };
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
