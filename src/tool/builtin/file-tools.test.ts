import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { callTool, toolContext, toolNamed } from "../../../test/helpers/tool-context.ts";
import { MemoryWorkspace } from "../../workspace/memory.ts";
import { builtinTools } from "./index.ts";

const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a2b4c5dc0000000049454e44ae426082",
  "hex",
);

function setup(files: Record<string, string | Uint8Array> = {}) {
  const ws = new MemoryWorkspace(files);
  const set = builtinTools({ workspace: ws });
  const tool = (name: string) => toolNamed(set.tools, name);
  return { ws, set, tool };
}

const text = async (ws: MemoryWorkspace, path: string) => new TextDecoder().decode(await ws.readFile(path));

describe("read_file", () => {
  it("numbers lines and pages through long files", async () => {
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join("\n");
    const { tool } = setup({ "a.txt": `${lines}\n` });
    const all = await callTool(tool("read_file"), { path: "a.txt" });
    expect(all.text.split("\n")[0]).toBe(" 1\tline 1");
    expect(all.text.split("\n")).toHaveLength(30);
    const part = await callTool(tool("read_file"), { path: "./a.txt", offset: 10, limit: 3 });
    expect(part.text).toBe(
      "10\tline 10\n11\tline 11\n12\tline 12\n[Lines 10-12 of 30. Call read_file with offset 13 to continue.]",
    );
    const past = await callTool(tool("read_file"), { path: "a.txt", offset: 31 });
    expect(past).toMatchObject({ isError: true, text: "a.txt has 30 lines; offset 31 is past the end." });
  });

  it("returns images as image parts and describes binary files", async () => {
    const { tool } = setup({ "img/pixel.png": PNG, "blob.bin": new Uint8Array([1, 2, 0, 3, 4]) });
    const image = await callTool(tool("read_file"), { path: "img/pixel.png" });
    expect(image.output).toEqual([
      { type: "text", text: `Image img/pixel.png (image/png, ${PNG.length} B)` },
      { type: "image", mediaType: "image/png", data: PNG.toString("base64") },
    ]);
    const bin = await callTool(tool("read_file"), { path: "blob.bin" });
    expect(bin.text).toMatch(/^blob\.bin is a binary file \(5 B\)/);
    expect(bin.isError).toBe(false);
  });

  it("reports missing files, directories and escapes as errors the model can act on", async () => {
    const { tool } = setup({ "src/a.ts": "x" });
    expect(await callTool(tool("read_file"), { path: "nope.ts" })).toMatchObject({
      isError: true,
      text: "File not found: nope.ts. Use list_files to see what exists.",
    });
    expect(await callTool(tool("read_file"), { path: "src" })).toMatchObject({
      isError: true,
      text: "src is a directory. Use list_files to see its contents.",
    });
    const escaped = await callTool(tool("read_file"), { path: "../etc/passwd" });
    expect(escaped.isError).toBe(true);
    expect(escaped.text).toContain("climbs above the workspace root");
  });
});

describe("read-before-write", () => {
  it("refuses to overwrite a file the thread has not read, and allows it after reading", async () => {
    const { ws, tool } = setup({ "a.txt": "old" });
    const refused = await callTool(tool("write_file"), { path: "a.txt", content: "new" });
    expect(refused).toMatchObject({ isError: true });
    expect(refused.text).toBe(
      "Refusing to change a.txt: you have not read it in this conversation. Read it with read_file first, then retry.",
    );
    expect(await text(ws, "a.txt")).toBe("old");
    await callTool(tool("read_file"), { path: "a.txt" });
    expect(await callTool(tool("write_file"), { path: "a.txt", content: "new" })).toMatchObject({
      isError: false,
      text: "Wrote a.txt (3 B, was 3 B).",
    });
    // Its own write counts as read: a second change needs no new read.
    expect(
      (await callTool(tool("edit_file"), { path: "a.txt", old_string: "new", new_string: "newer" })).isError,
    ).toBe(false);
    expect(await text(ws, "a.txt")).toBe("newer");
  });

  it("refuses a file that changed since it was read", async () => {
    const { ws, tool } = setup({ "a.txt": "v1" });
    await callTool(tool("read_file"), { path: "a.txt" });
    await ws.commit([{ path: "a.txt", content: new TextEncoder().encode("v2 from someone else") }]);
    const refused = await callTool(tool("edit_file"), {
      path: "a.txt",
      old_string: "v1",
      new_string: "mine",
    });
    expect(refused.text).toMatch(/^Refusing to change a\.txt: it changed since you last read it/);
    expect(await text(ws, "a.txt")).toBe("v2 from someone else");
  });

  it("keeps read state per thread", async () => {
    const { tool } = setup({ "a.txt": "x" });
    await callTool(tool("read_file"), { path: "a.txt" }, toolContext({ threadId: "t1" }));
    const other = await callTool(
      tool("write_file"),
      { path: "a.txt", content: "y" },
      toolContext({ threadId: "t2" }),
    );
    expect(other.isError).toBe(true);
  });

  it("creates new files without a read, with parent directories", async () => {
    const { ws, tool } = setup();
    expect(await callTool(tool("write_file"), { path: "deep/dir/new.md", content: "# hi" })).toMatchObject({
      text: "Created deep/dir/new.md (4 B).",
    });
    expect(await text(ws, "deep/dir/new.md")).toBe("# hi");
  });
});

describe("edit_file", () => {
  it("replaces one exact, unique occurrence", async () => {
    const { ws, tool } = setup({ "a.ts": "const a = 1;\nconst b = 2;\n" });
    await callTool(tool("read_file"), { path: "a.ts" });
    expect(
      await callTool(tool("edit_file"), {
        path: "a.ts",
        old_string: "const b = 2;",
        new_string: "const b = 3;",
      }),
    ).toMatchObject({
      isError: false,
      text: "Edited a.ts: replaced 1 occurrence at line 2.",
    });
    expect(await text(ws, "a.ts")).toBe("const a = 1;\nconst b = 3;\n");
  });

  it("refuses ambiguous matches unless replace_all, naming the lines", async () => {
    const { ws, tool } = setup({ "a.ts": "x = 1\ny = 2\nx = 1\n" });
    await callTool(tool("read_file"), { path: "a.ts" });
    const ambiguous = await callTool(tool("edit_file"), {
      path: "a.ts",
      old_string: "x = 1",
      new_string: "x = 9",
    });
    expect(ambiguous.text).toBe(
      "old_string matches 2 places in a.ts (lines 1, 3). Include more surrounding context to make it unique, or set replace_all to change them all.",
    );
    expect(
      await callTool(tool("edit_file"), {
        path: "a.ts",
        old_string: "x = 1",
        new_string: "x = 9",
        replace_all: true,
      }),
    ).toMatchObject({
      text: "Edited a.ts: replaced 2 occurrences (lines 1, 3).",
    });
    expect(await text(ws, "a.ts")).toBe("x = 9\ny = 2\nx = 9\n");
  });

  it("explains a miss: line-number prefixes, whitespace differences", async () => {
    const { tool } = setup({ "a.py": "def f():\n    return 1\n" });
    await callTool(tool("read_file"), { path: "a.py" });
    const prefixed = await callTool(tool("edit_file"), {
      path: "a.py",
      old_string: "2\t    return 1",
      new_string: "x",
    });
    expect(prefixed.text).toContain("line-number prefixes");
    const spacing = await callTool(tool("edit_file"), {
      path: "a.py",
      old_string: "  return 1",
      new_string: "  return 2",
    });
    expect(spacing.isError).toBe(false);
    const tabs = await callTool(tool("edit_file"), {
      path: "a.py",
      old_string: "def f():\n\treturn 2",
      new_string: "x",
    });
    expect(tabs.text).toContain("A similar line exists at line 1");
  });

  it("edits CRLF files with LF text and keeps CRLF", async () => {
    const { ws, tool } = setup({ "w.txt": "one\r\ntwo\r\nthree\r\n" });
    await callTool(tool("read_file"), { path: "w.txt" });
    await callTool(tool("edit_file"), { path: "w.txt", old_string: "one\ntwo", new_string: "1\n2" });
    expect(await text(ws, "w.txt")).toBe("1\r\n2\r\nthree\r\n");
  });

  it("rejects empty and no-op edits", async () => {
    const { tool } = setup({ "a.txt": "a" });
    expect(
      (await callTool(tool("edit_file"), { path: "a.txt", old_string: "", new_string: "x" })).text,
    ).toContain("old_string is empty");
    expect(
      (await callTool(tool("edit_file"), { path: "a.txt", old_string: "a", new_string: "a" })).text,
    ).toContain("identical");
  });
});

describe("file tools on a local workspace", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("default to a LocalWorkspace at the thread's cwd and refuse escapes", async () => {
    dir = await mkdtemp(join(tmpdir(), "taifeng-ft-"));
    await writeFile(join(dir, "a.txt"), "hello\n");
    const set = builtinTools();
    const ctx = toolContext({ cwd: dir });
    expect((await callTool(toolNamed(set.tools, "read_file"), { path: "a.txt" }, ctx)).text).toBe("1\thello");
    const escaped = await callTool(
      toolNamed(set.tools, "write_file"),
      { path: "/tmp/escape.txt", content: "x" },
      ctx,
    );
    expect(escaped.isError).toBe(true);
    expect(escaped.text).toContain("outside the workspace");
    await callTool(
      toolNamed(set.tools, "edit_file"),
      { path: "a.txt", old_string: "hello", new_string: "bye" },
      ctx,
    );
    expect(await readFile(join(dir, "a.txt"), "utf8")).toBe("bye\n");
  });
});

describe("permission identities", () => {
  it("declare the rule name and the input they are matched on", () => {
    const identities = Object.fromEntries(
      builtinTools().tools.map((t) => [
        t.name,
        t.permission ? { rule: t.permission.rule, field: t.permission.field } : undefined,
      ]),
    );
    expect(identities).toMatchObject({
      bash: { rule: "Bash", field: "command" },
      read_file: { rule: "Read", field: "path" },
      list_files: { rule: "Read" },
      grep: { rule: "Read" },
      write_file: { rule: "Edit", field: "path" },
      edit_file: { rule: "Edit", field: "path" },
      apply_patch: { rule: "Edit" },
      http_request: { rule: "WebFetch", field: "url" },
      ask_user: undefined,
      todo_write: undefined,
    });
    const list = toolNamed(builtinTools().tools, "list_files");
    expect(list.permission?.subjects?.({})).toEqual(["."]);
    expect(list.permission?.subjects?.({ path: "src" })).toEqual(["src"]);
  });
});
