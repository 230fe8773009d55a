import { describe, expect, it } from "vitest";
import { analyzeCommand } from "./shell.ts";

const parts = (command: string) => {
  const a = analyzeCommand(command);
  if (!a.ok) throw new Error(a.error);
  return a.parts.map((p) => p.text);
};
const redirects = (command: string) => {
  const a = analyzeCommand(command);
  if (!a.ok) throw new Error(a.error);
  return a.redirects.map((r) => `${r.op} ${r.path ?? "?"} ${r.write ? "w" : "r"}`);
};

describe("analyzeCommand", () => {
  it("splits on every list and pipeline operator and on newlines", () => {
    expect(parts("a && b || c; d | e |& f & g\nh")).toEqual(["a", "b", "c", "d", "e", "f", "g", "h"]);
  });

  it("keeps quoted operators inside one argument", () => {
    expect(parts(`echo "a && b" 'c | d' e\\;f`)).toEqual([`echo "a && b" 'c | d' e\\;f`]);
  });

  it("adds substitutions, here-document bodies and nested shells as parts", () => {
    expect(parts("echo $(date) `id` <(ls) >(wc)")).toEqual([
      "echo $(date) `id` <(ls) >(wc)",
      "date",
      "id",
      "ls",
      "wc",
    ]);
    expect(parts('x="$(a "$(b)")"')).toEqual(['a "$(b)"', "b"]);
    expect(parts("cat <<EOF\n$(boom)\nEOF")).toEqual(["cat", "boom"]);
    expect(parts("cat <<'EOF'\n$(inert)\nEOF")).toEqual(["cat"]);
    expect(parts("bash -lc 'a; b' && eval c d")).toEqual(["bash -lc 'a; b'", "eval c d", "a", "b", "c d"]);
  });

  it("strips assignments and wrappers, but not a wrapper used as a query", () => {
    expect(parts("A=1 B='x y' timeout -k 5 10 nice -n 2 nohup stdbuf -oL time -p npm test")).toEqual([
      "npm test",
    ]);
    expect(parts("command -v npm")).toEqual(["command -v npm"]);
    expect(parts("timeout 10")).toEqual(["timeout 10"]);
  });

  it("reports file redirections, unquoted, and skips descriptors and special files", () => {
    expect(redirects("a > 'out file' 2>>log <in 3<>rw &>all >|force >&both 2>&1 >/dev/null <<< s")).toEqual([
      "> out file w",
      ">> log w",
      "< in r",
      "<> rw w",
      "&> all w",
      ">| force w",
      ">& both w",
    ]);
    expect(redirects("a > $OUT > ~/x")).toEqual(["> ? w", "> ~/x w"]);
  });

  it("returns argument values with quotes removed, undefined where expanded", () => {
    const a = analyzeCommand(`git commit -m "fix: \\"x\\"" $MSG`);
    expect(a.ok && a.parts[0]?.argv).toEqual(["git", "commit", "-m", 'fix: "x"', undefined]);
  });

  it("reports syntax errors instead of throwing", () => {
    expect(analyzeCommand("echo 'open")).toEqual({
      ok: false,
      error: expect.stringContaining("cannot parse the command"),
    });
    expect(analyzeCommand("if then fi").ok).toBe(false);
  });
});
