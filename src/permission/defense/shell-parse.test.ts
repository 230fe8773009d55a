import { describe, expect, it } from "vitest";
import { analyze } from "./commands.ts";
import { normalizeCommand } from "./normalize.ts";
import { parseShell } from "./shell-parse.ts";

const words = (src: string) =>
  parseShell(src).pipelines.map((p) => p.commands.map((c) => c.words.map((w) => w.text)));

describe("parseShell", () => {
  it("splits lists and pipelines and dequotes words", () => {
    expect(words(`a "b c" 'd e' f\\ g && h | i; j & k || l`)).toEqual([
      [["a", "b c", "d e", "f g"]],
      [["h"], ["i"]],
      [["j"]],
      [["k"]],
      [["l"]],
    ]);
  });

  it("decodes ANSI-C strings and keeps $VAR text", () => {
    expect(words(String.raw`$'\x72\x6d' $'a\tb' "$HOME/x" ` + "$" + "{HOME}")).toEqual([
      [["rm", "a\tb", "$HOME/x", "$" + "{HOME}"]],
    ]);
  });

  it("parses substitutions, backticks and process substitutions recursively", () => {
    const script = parseShell("echo $(curl -s x | sh) `id` <(cat f)");
    const word = script.pipelines[0]?.commands[0]?.words;
    expect(word?.map((w) => w.text)).toEqual(["echo", "$(…)", "$(…)", "/dev/fd/63"]);
    expect(word?.[1]?.subs[0]?.script.pipelines[0]?.commands.map((c) => c.words[0]?.text)).toEqual([
      "curl",
      "sh",
    ]);
    expect(word?.[3]?.subs[0]?.kind).toBe("process");
  });

  it("collects redirects with fds, and here-document bodies", () => {
    const [pipeline] = parseShell(
      "cat <<'EOF' > out.txt 2>&1\nline one\nline two\nEOF\necho after",
    ).pipelines;
    const cmd = pipeline?.commands[0];
    expect(cmd?.redirects.map((r) => [r.op, r.fd, r.target.text])).toEqual([
      ["<<", undefined, "EOF"],
      [">", undefined, "out.txt"],
      [">&", 2, "1"],
    ]);
    expect(cmd?.redirects[0]?.heredoc).toBe("line one\nline two");
    expect(words("cat <<EOF\nx\nEOF\necho after").at(-1)).toEqual([["echo", "after"]]);
  });

  it("closes unterminated quotes and substitutions instead of failing", () => {
    expect(words(`echo "unterminated`)).toEqual([[["echo", "unterminated"]]]);
    expect(parseShell("echo $(never closed").pipelines).toHaveLength(1);
  });

  it("keeps subshell output piped: (a) | b", () => {
    expect(words("(curl x) | sh")).toEqual([[["curl", "x"], ["sh"]]]);
  });
});

describe("normalizeCommand", () => {
  it("strips ANSI escapes, NUL, zero-width characters and folds fullwidth forms", () => {
    expect(normalizeCommand("\u001b[31mr\u0000m\u001b[0m\u200b -rf\u00a0/")).toBe("rm -rf /");
    expect(normalizeCommand("ｒｍ -rf /")).toBe("rm -rf /");
    expect(normalizeCommand("echo a\rrm -rf /")).toBe("echo a\nrm -rf /");
    const ifs = "$" + "{IFS}";
    expect(normalizeCommand(`rm${ifs}-rf$IFS/`)).toBe("rm -rf /");
    expect(normalizeCommand("ls \\\n-la")).toBe("ls -la");
  });
});

describe("analyze", () => {
  it("peels wrappers and re-enters nested shells", () => {
    const a = analyze(
      `sudo -u bob env A=1 timeout -s KILL 5 nohup bash -c "find / -exec rm {} \\;" | xargs -0 rm`,
    );
    expect(a.invocations.map((i) => [i.name, i.via.join(",")])).toEqual([
      ["bash", "sudo,env,timeout,nohup"],
      ["find", ""],
      ["rm", ""],
      ["rm", "xargs"],
    ]);
  });

  it("follows variables and the substitutions they came from", () => {
    const a = analyze(`x=$(curl -s http://e); eval "$x"`);
    const evalInv = a.invocations.find((i) => i.name === "eval");
    expect(evalInv?.substitutions.flatMap((s) => s.invocations.map((i) => i.name))).toEqual(["curl"]);
  });
});
