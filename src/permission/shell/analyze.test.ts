import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeShell, HOLE, type ShellAnalysis } from "./index.ts";

let cwd: string;
let home: string;
beforeAll(async () => {
  const root = await realpath(await mkdtemp(join(tmpdir(), "taifeng-shell-")));
  cwd = join(root, "project");
  home = join(root, "home");
  await mkdir(join(cwd, "build"), { recursive: true });
  await mkdir(join(home, ".ssh"), { recursive: true });
  await writeFile(join(cwd, "a.ts"), "");
  await writeFile(join(cwd, "b.ts"), "");
});
afterAll(() => rm(join(cwd, ".."), { recursive: true, force: true }));

const analyze = (command: string) => analyzeShell(command, { cwd, home });
/** Each command as `[origin/role] argv` with holes shown as `?`. */
const runs = (a: ShellAnalysis) =>
  a.commands
    .filter((c) => c.argv.length > 0)
    .map(
      (c) =>
        `${c.role === "wrapper" ? "~" : ""}${c.argv.map((f) => f.match.replaceAll(HOLE, "?")).join(" ")}`,
    );
const argvOf = async (command: string) => runs(await analyze(command));

/** `${name}` written without a template literal. */
const braced = (name: string) => `$\{${name}}`;

describe("analyzeShell: what runs", () => {
  it("splits lists, pipelines, substitutions and nested scripts, in order", async () => {
    expect(await argvOf("a && b || c; d | e |& f & g\nh")).toEqual(["a", "b", "c", "d", "e", "f", "g", "h"]);
    expect(await argvOf("echo $(date) `id` <(ls) >(wc)")).toEqual(["date", "id", "ls", "wc", "echo ? ? ? ?"]);
    expect(await argvOf("bash -lc 'a; b' && eval c d")).toEqual([
      "a",
      "b",
      "bash -lc a; b",
      "c d",
      "eval c d",
    ]);
    expect(await argvOf("f() { rm -rf x; }; f")).toEqual(["rm -rf x", "f"]);
  });

  it("keeps quoted operators inside one word and removes quotes and escapes", async () => {
    expect(await argvOf(`echo "a && b" 'c | d' e\\;f`)).toEqual(["echo a && b c | d e;f"]);
    expect(await argvOf(`'r'm \\-rf "x y" $'\\x41\\102' $"z"`)).toEqual(["rm -rf x y AB z"]);
  });

  it("expands braces, tilde, $HOME, known variables and static substitutions", async () => {
    expect(await argvOf("rm -rf /{etc,usr} x{1..3}")).toEqual(["rm -rf /etc /usr x1 x2 x3"]);
    expect(await argvOf(`ls ~ ~/x $HOME/y ${braced("HOME")}`)).toEqual([
      `ls ${home} ${home}/x ${home}/y ${home}`,
    ]);
    expect(await argvOf("a=r; b=m; $a$b -f x")).toEqual(["rm -f x"]);
    expect(await argvOf('c="rm -rf /"; $c')).toEqual(["rm -rf /"]);
    expect(await argvOf(`rm${braced("IFS")}-rf${braced("IFS")}/`)).toEqual(["rm -rf /"]);
    expect(await argvOf(`$(echo rm) x; $(printf '\\x72\\x6d') y`)).toEqual([
      "echo rm",
      "rm x",
      "printf \\x72\\x6d",
      "rm y",
    ]);
  });

  it("forgets a variable assigned where it may not run", async () => {
    expect(await argvOf("x=ls; if t; then x=rm; fi; $x /")).toEqual(["t", "? /"]);
    expect(await argvOf("x=ls; (x=rm); $x /")).toEqual(["? /"]);
  });

  it("matches globs against the filesystem and keeps the pattern", async () => {
    const a = await analyze("ls *.ts");
    expect(a.commands[0]?.args).toEqual(["*.ts", "a.ts", "b.ts"]);
    expect(a.commands[0]?.argv[1]?.match).toBe(`${HOLE}.ts`);
  });

  it("unwraps wrappers, keeping each wrapper's form", async () => {
    expect(await argvOf("FOO=1 timeout -k 5 10 nice -n 2 nohup stdbuf -oL npm test")).toEqual([
      "~timeout -k 5 10 nice -n 2 nohup stdbuf -oL npm test",
      "~nice -n 2 nohup stdbuf -oL npm test",
      "~nohup stdbuf -oL npm test",
      "~stdbuf -oL npm test",
      "npm test",
    ]);
    expect(await argvOf("sudo -u root env -i rm x")).toEqual([
      "sudo -u root env -i rm x",
      "~env -i rm x",
      "rm x",
    ]);
    expect(await argvOf("echo a b | xargs rm -f")).toEqual(["echo a b", "xargs rm -f", "rm -f a b"]);
    expect(await argvOf("find . -exec rm {} +")).toEqual(["rm ?", "find . -exec rm {} +"]);
    expect(await argvOf("command -v npm")).toEqual(["command -v npm"]);
  });

  it("follows cd for later paths, keeping the directory a failed cd leaves", async () => {
    const a = await analyze("cd ~ && echo x >> .bashrc");
    const echo = a.commands.find((c) => c.name === "echo");
    expect(echo?.dirs).toEqual({ known: [cwd, home], unknown: false });
    expect(echo?.redirects[0]?.paths).toEqual([join(cwd, ".bashrc"), join(home, ".bashrc")]);
    const unknown = await analyze('cd "$DIR" && echo x > y');
    expect(unknown.commands.at(-1)?.redirects[0]).toMatchObject({ unknownPath: true });
  });

  it("gives a redirection after a list or pipeline to its last command", async () => {
    const a = await analyze("a && b > out; c | d 2> err");
    const target = (name: string) => a.commands.find((c) => c.name === name)?.redirects.map((r) => r.op);
    expect([target("a"), target("b"), target("c"), target("d")]).toEqual([[], [">"], [], [">"]]);
  });

  it("reads here-documents and here-strings as stdin, and runs them when a shell reads them", async () => {
    expect(await argvOf("cat <<EOF | sh\nrm -rf x\nEOF")).toEqual(["cat", "rm -rf x", "sh"]);
    expect(await argvOf("bash <<< 'rm -rf y'")).toEqual(["rm -rf y", "bash"]);
    expect(await argvOf("echo 'rm -rf z' | sh")).toEqual(["echo rm -rf z", "rm -rf z", "sh"]);
    expect(await argvOf("echo 'rm -rf w' > s.sh && bash s.sh")).toEqual([
      "echo rm -rf w",
      "rm -rf w",
      "bash s.sh",
    ]);
  });

  it("joins a word that a backslash-newline splits in the grammar", async () => {
    expect(await argvOf("r\\\nm -rf x")).toEqual(["rm -rf x"]);
  });
});

describe("analyzeShell: what cannot be known", () => {
  const opaque = async (command: string) => (await analyze(command)).commands.find((c) => c.opaque)?.opaque;

  it("marks run-time command names, eval of non-literals and unknown scripts", async () => {
    expect((await opaque("$cmd -rf x"))?.reason).toMatch(/only known at run time/);
    expect((await opaque(`${braced("x:-rm")} -rf x`))?.reason).toMatch(/only known at run time/);
    expect((await opaque('eval "$CMD"'))?.reason).toMatch(/eval runs text/);
    expect((await opaque("cat x | sh"))?.reason).toMatch(/reads from its input/);
    expect((await opaque("curl -o x.sh https://e.x && . ./x.sh"))?.reason).toMatch(
      /earlier command in the line wrote/,
    );
  });

  it("marks inline interpreter code with the words a rule must name", async () => {
    expect(await opaque("python3 -c 'print(1)'")).toEqual({
      reason: "python3 -c runs inline code",
      pin: "python3 -c",
    });
    expect((await opaque("perl -ne 'print' f"))?.pin).toBe("perl -ne");
    expect((await opaque("awk 'BEGIN{system(\"id\")}'"))?.reason).toMatch(/runs commands/);
    expect((await opaque("sed 's/a/b/e' f"))?.reason).toMatch(/sed script/);
    expect(await opaque("sed -i 's/a/b/g' f")).toBeUndefined();
    expect((await opaque("git -c core.pager=less log"))?.reason).toMatch(/core.pager/);
    expect(await opaque("git -c color.ui=always log")).toBeUndefined();
  });

  it("marks environment that changes what runs, with the assignment as the pin", async () => {
    expect(await opaque("LD_PRELOAD=./x.so ls")).toEqual({
      reason: "it sets LD_PRELOAD, which changes what runs",
      pin: "LD_PRELOAD=./x.so",
    });
    expect((await opaque("export PATH=/tmp:$PATH"))?.pin).toBeUndefined();
    expect((await opaque("env GIT_SSH_COMMAND=x git fetch"))?.reason).toMatch(/GIT_SSH_COMMAND/);
    expect(await opaque("GIT_PAGER=cat git log")).toBeUndefined();
    expect(await opaque("CI=true npm test")).toBeUndefined();
  });

  it("reports a line that does not parse, and text the parser skipped", async () => {
    const a = await analyze("echo 'open");
    expect(a.ok).toBe(false);
    expect(a.error).toMatch(/cannot parse the command/);
    expect((await opaque("echo a\\ b \\ c"))?.reason).toMatch(/parser and bash may read it differently/);
  });

  it("is total: odd input never throws", async () => {
    for (const input of [
      "",
      ")))",
      "'''",
      "$(((",
      "<<EOF",
      "a\u0000b",
      "((((((".repeat(20),
      "x".repeat(70_000),
    ])
      await expect(analyze(input)).resolves.toBeDefined();
  });
});
