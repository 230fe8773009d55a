import * as realFs from "node:fs/promises";
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalWorkspace } from "./local.ts";
import type { LocalFs } from "./local-commit.ts";
import { isWorkspaceError } from "./types.ts";

let dir: string;
let root: string;
let outside: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-ws-"));
  root = join(dir, "root");
  outside = join(dir, "outside");
  await realFs.mkdir(join(root, "src"), { recursive: true });
  await realFs.mkdir(outside);
  await writeFile(join(root, "src", "a.txt"), "alpha\n");
  await writeFile(join(outside, "secret.txt"), "top secret\n");
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (err) {
    if (isWorkspaceError(err)) return err.code;
    throw err;
  }
}

describe("LocalWorkspace path guard", () => {
  it("reads inside the root by relative and absolute path", async () => {
    const ws = new LocalWorkspace({ root });
    expect(dec(await ws.readFile("src/a.txt"))).toBe("alpha\n");
    expect(dec(await ws.readFile(join(root, "src/a.txt")))).toBe("alpha\n");
    expect(dec(await ws.readFile("./src/../src/a.txt"))).toBe("alpha\n");
    expect(ws.resolve("src\\a.txt")).toBe("src/a.txt");
  });

  it("refuses .. above the root, absolute paths elsewhere and the home directory", async () => {
    const ws = new LocalWorkspace({ root });
    for (const p of ["../outside/secret.txt", "src/../../outside/secret.txt", "..", "src\\..\\..\\x"]) {
      expect(await codeOf(ws.readFile(p)), p).toBe("path_escape");
    }
    expect(await codeOf(ws.readFile(join(outside, "secret.txt")))).toBe("path_escape");
    expect(await codeOf(ws.readFile("/etc/passwd"))).toBe("path_escape");
    expect(await codeOf(ws.readFile("~/.ssh/id_rsa"))).toBe("path_escape");
    expect(await codeOf(ws.readFile(`${root}-evil/x`))).toBe("path_escape");
    expect(await codeOf(ws.commit([{ path: "../escape.txt", content: enc("x") }]))).toBe("path_escape");
    expect(await readdir(dir)).toEqual(["outside", "root"]);
  });

  it("refuses unicode look-alikes of dots and slashes, and control characters", async () => {
    const ws = new LocalWorkspace({ root });
    const tricks = [
      "\u2024\u2024/outside/secret.txt", // one dot leaders
      "\uff0e\uff0e/outside", // fullwidth full stops
      "..\u2215outside\u2215secret.txt", // division slash
      "src\uff0fa.txt", // fullwidth solidus
      "\u2025/outside", // two dot leader
      "src/a.txt\u0000.png",
      "src/\u001b[31ma.txt",
    ];
    for (const p of tricks) expect(await codeOf(ws.readFile(p)), JSON.stringify(p)).toBe("invalid_path");
    // Other non-ASCII names are fine.
    await ws.commit([{ path: "src/日本語-é.txt", content: enc("ok") }]);
    expect(dec(await ws.readFile("src/日本語-é.txt"))).toBe("ok");
  });

  it("refuses symlinks that lead outside, for reads, listings and writes", async () => {
    await symlink(join(outside, "secret.txt"), join(root, "link-file"));
    await symlink(outside, join(root, "link-dir"));
    await symlink(join(outside, "nothing-yet.txt"), join(root, "dangling"));
    const ws = new LocalWorkspace({ root });
    expect(await codeOf(ws.readFile("link-file"))).toBe("path_escape");
    expect(await codeOf(ws.readFile("link-dir/secret.txt"))).toBe("path_escape");
    expect(await codeOf(ws.list("link-dir"))).toBe("path_escape");
    expect(await codeOf(ws.commit([{ path: "link-dir/new.txt", content: enc("x") }]))).toBe("path_escape");
    expect(await codeOf(ws.commit([{ path: "link-file", content: enc("x") }]))).toBe("path_escape");
    expect(await codeOf(ws.commit([{ path: "dangling", content: enc("x") }]))).toBe("path_escape");
    expect(await readFile(join(outside, "secret.txt"), "utf8")).toBe("top secret\n");
    expect(await readdir(outside)).toEqual(["secret.txt"]);
    // Links that escape are hidden from listings.
    expect((await ws.list("")).map((e) => e.name)).toEqual(["src"]);
  });

  it("follows symlinks that stay inside and writes through them to the real file", async () => {
    await symlink(join(root, "src"), join(root, "alias"));
    await symlink("a.txt", join(root, "src", "a-link.txt"));
    const ws = new LocalWorkspace({ root });
    expect(dec(await ws.readFile("alias/a.txt"))).toBe("alpha\n");
    await ws.commit([{ path: "src/a-link.txt", content: enc("beta\n") }]);
    expect(await readFile(join(root, "src", "a.txt"), "utf8")).toBe("beta\n");
    expect((await realFs.lstat(join(root, "src", "a-link.txt"))).isSymbolicLink()).toBe(true);
  });

  it("reports a workspace root that is itself a symlink under both spellings", async () => {
    await symlink(root, join(dir, "root-link"));
    const ws = new LocalWorkspace({ root: join(dir, "root-link") });
    expect(ws.resolve(join(dir, "root-link", "src/a.txt"))).toBe("src/a.txt");
    expect(ws.resolve(join(root, "src/a.txt"))).toBe("src/a.txt");
  });
});

describe("LocalWorkspace atomic commit", () => {
  it("creates, replaces and deletes several files at once, creating parents", async () => {
    await writeFile(join(root, "old.txt"), "old");
    await realFs.chmod(join(root, "src", "a.txt"), 0o750);
    const ws = new LocalWorkspace({ root });
    await ws.commit([
      { path: "src/a.txt", content: enc("A2") },
      { path: "deep/new/b.txt", content: enc("B") },
      { path: "old.txt", content: null },
    ]);
    expect(await readFile(join(root, "src", "a.txt"), "utf8")).toBe("A2");
    expect((await realFs.stat(join(root, "src", "a.txt"))).mode & 0o777).toBe(0o750);
    expect(await readFile(join(root, "deep/new/b.txt"), "utf8")).toBe("B");
    expect(await ws.stat("old.txt")).toBeUndefined();
    expect(await listAll(root)).toEqual(["deep/new/b.txt", "src/a.txt"]);
  });

  it("rolls every file back when a rename fails in the middle", async () => {
    await writeFile(join(root, "b.txt"), "bravo");
    let renames = 0;
    const faulty: LocalFs = {
      ...realFs,
      rename: async (from, to) => {
        renames++;
        if (renames === 3) throw Object.assign(new Error("simulated disk failure"), { code: "EIO" });
        return realFs.rename(from, to);
      },
    };
    const ws = new LocalWorkspace({ root, fs: faulty });
    const err = await ws
      .commit([
        { path: "src/a.txt", content: enc("changed a") },
        { path: "new/dir/c.txt", content: enc("new c") },
        { path: "b.txt", content: enc("changed b") },
      ])
      .catch((e: unknown) => e);
    expect(isWorkspaceError(err, "write_failed")).toBe(true);
    expect((err as Error).message).toContain("b.txt");
    expect((err as Error).message).toContain("simulated disk failure");
    expect((err as Error).message).toContain("No file was changed");
    expect(await readFile(join(root, "src", "a.txt"), "utf8")).toBe("alpha\n");
    expect(await readFile(join(root, "b.txt"), "utf8")).toBe("bravo");
    // No new file, no created directory, no temp or backup file left behind.
    expect(await listAll(root)).toEqual(["b.txt", "src/a.txt"]);
  });

  it("rolls back a delete when a later write fails", async () => {
    await writeFile(join(root, "gone.txt"), "keep me");
    await realFs.mkdir(join(root, "taken"));
    const ws = new LocalWorkspace({ root });
    const err = await ws
      .commit([
        { path: "gone.txt", content: null },
        { path: "src/a.txt", content: enc("x") },
        { path: "taken", content: enc("cannot replace a directory") },
      ])
      .catch((e: unknown) => e);
    expect(isWorkspaceError(err, "write_failed")).toBe(true);
    expect((err as Error).message).toContain("taken is a directory");
    expect(await readFile(join(root, "gone.txt"), "utf8")).toBe("keep me");
    expect(await readFile(join(root, "src", "a.txt"), "utf8")).toBe("alpha\n");
    expect(await listAll(root)).toEqual(["gone.txt", "src/a.txt", "taken/"]);
  });

  it("rolls back when aborted between files", async () => {
    const controller = new AbortController();
    let renames = 0;
    const slow: LocalFs = {
      ...realFs,
      rename: async (from, to) => {
        await realFs.rename(from, to);
        if (++renames === 1) controller.abort();
      },
    };
    const ws = new LocalWorkspace({ root, fs: slow });
    const err = await ws
      .commit(
        [
          { path: "src/a.txt", content: enc("x") },
          { path: "src/b.txt", content: enc("y") },
        ],
        controller.signal,
      )
      .catch((e: unknown) => e);
    expect(isWorkspaceError(err, "write_failed")).toBe(true);
    expect(await listAll(root)).toEqual(["src/a.txt"]);
    expect(await readFile(join(root, "src", "a.txt"), "utf8")).toBe("alpha\n");
  });

  it("refuses to delete a missing file or to write the same file twice", async () => {
    const ws = new LocalWorkspace({ root });
    expect(await codeOf(ws.commit([{ path: "nope.txt", content: null }]))).toBe("write_failed");
    expect(
      await codeOf(
        ws.commit([
          { path: "src/a.txt", content: enc("1") },
          { path: "./src//a.txt", content: enc("2") },
        ]),
      ),
    ).toBe("write_failed");
  });
});

describe("LocalWorkspace reads", () => {
  it("stats, lists and reports missing paths and wrong kinds", async () => {
    const ws = new LocalWorkspace({ root });
    expect(await ws.stat("src")).toMatchObject({ kind: "dir" });
    expect(await ws.stat("src/a.txt")).toMatchObject({ kind: "file", size: 6 });
    expect(await ws.stat("missing/x")).toBeUndefined();
    expect(await ws.list("")).toEqual([{ name: "src", kind: "dir" }]);
    expect(await codeOf(ws.readFile("src"))).toBe("is_directory");
    expect(await codeOf(ws.readFile("nope"))).toBe("not_found");
    expect(await codeOf(ws.list("src/a.txt"))).toBe("not_directory");
    expect(await codeOf(ws.list("nope"))).toBe("not_found");
    expect(() => new LocalWorkspace({ root: join(dir, "absent") })).toThrow(/does not exist/);
  });
});

async function listAll(base: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(base, rel), { withFileTypes: true })) {
    const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) {
      const inner = await listAll(base, path);
      out.push(...(inner.length === 0 ? [`${path}/`] : inner));
    } else out.push(path);
  }
  return out.sort();
}
