import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalWorkspace } from "./local.ts";
import { MemoryWorkspace } from "./memory.ts";
import { S3Workspace } from "./s3.ts";
import { isWorkspaceError, type Workspace } from "./types.ts";

// One behavioural contract, checked against every backend. The S3 backend runs against
// s3rver, a local S3-compatible server speaking real HTTP to the official AWS SDK.

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let tmp: string;
let server: S3rver;
let client: S3Client;
let counter = 0;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "taifeng-contract-"));
  server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: join(tmp, "s3") });
  const { port } = await server.run();
  client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
  await client.send(new CreateBucketCommand({ Bucket: "taifeng-test" }));
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});

const backends: [string, () => Promise<Workspace>][] = [
  ["memory", async () => new MemoryWorkspace()],
  [
    "local",
    async () => {
      const root = join(tmp, `local-${++counter}`);
      await import("node:fs/promises").then((fs) => fs.mkdir(root));
      return new LocalWorkspace({ root });
    },
  ],
  ["s3", async () => new S3Workspace({ client, bucket: "taifeng-test", prefix: `ws-${++counter}/agent` })],
];

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (err) {
    if (isWorkspaceError(err)) return err.code;
    throw err;
  }
}

describe.each(backends)("workspace contract: %s", (_name, make) => {
  it("commits, reads, stats and lists", async () => {
    const ws = await make();
    await ws.commit([
      { path: "README.md", content: enc("# hi\n") },
      { path: "src/index.ts", content: enc("export {};\n") },
      { path: "src/lib/util.ts", content: enc("u") },
    ]);
    expect(dec(await ws.readFile("src/index.ts"))).toBe("export {};\n");
    expect(await ws.stat("src/lib/util.ts")).toMatchObject({ kind: "file", size: 1 });
    expect(await ws.stat("src/lib")).toMatchObject({ kind: "dir" });
    expect(await ws.stat("nope")).toBeUndefined();
    expect(await ws.list("")).toEqual([
      { name: "README.md", kind: "file" },
      { name: "src", kind: "dir" },
    ]);
    expect(await ws.list("src")).toEqual([
      { name: "index.ts", kind: "file" },
      { name: "lib", kind: "dir" },
    ]);
  });

  it("replaces and deletes, and reports errors by code", async () => {
    const ws = await make();
    await ws.commit([{ path: "a.txt", content: enc("1") }]);
    await ws.commit([
      { path: "a.txt", content: enc("2") },
      { path: "b.txt", content: enc("b") },
    ]);
    expect(dec(await ws.readFile("a.txt"))).toBe("2");
    await ws.commit([{ path: "b.txt", content: null }]);
    expect(await ws.stat("b.txt")).toBeUndefined();
    expect(await codeOf(ws.readFile("b.txt"))).toBe("not_found");
    await ws.commit([{ path: "d/x.txt", content: enc("x") }]);
    expect(await codeOf(ws.readFile("d"))).toBe("is_directory");
    expect(await codeOf(ws.list("a.txt"))).toBe("not_directory");
    expect(await codeOf(ws.list("missing"))).toBe("not_found");
    expect(await codeOf(ws.readFile("../x"))).toBe("path_escape");
    expect(await codeOf(ws.readFile("\uff0e\uff0e/x"))).toBe("invalid_path");
  });

  it("changes nothing when one change of a commit is invalid", async () => {
    const ws = await make();
    await ws.commit([{ path: "keep.txt", content: enc("original") }]);
    const code = await codeOf(
      ws.commit([
        { path: "keep.txt", content: enc("changed") },
        { path: "new.txt", content: enc("new") },
        { path: "missing.txt", content: null },
      ]),
    );
    expect(["not_found", "write_failed"]).toContain(code);
    expect(dec(await ws.readFile("keep.txt"))).toBe("original");
    expect(await ws.stat("new.txt")).toBeUndefined();
  });
});

describe("S3Workspace", () => {
  it("keeps each workspace under its own prefix", async () => {
    const a = new S3Workspace({ client, bucket: "taifeng-test", prefix: "iso/a" });
    const b = new S3Workspace({ client, bucket: "taifeng-test", prefix: "iso/b" });
    await a.commit([{ path: "f.txt", content: enc("from a") }]);
    expect(await b.stat("f.txt")).toBeUndefined();
    expect(a.root).toBe("s3://taifeng-test/iso/a");
  });

  it("rolls back written objects when a later write fails", async () => {
    const failing = {
      calls: 0,
      send(command: unknown, options?: { abortSignal?: AbortSignal }) {
        const name = (command as object).constructor.name;
        if (name === "PutObjectCommand" && ++this.calls === 2) {
          return Promise.reject(new Error("simulated network failure"));
        }
        return client.send(command as never, options);
      },
    };
    const ws = new S3Workspace({ client: failing, bucket: "taifeng-test", prefix: "rollback" });
    await new S3Workspace({ client, bucket: "taifeng-test", prefix: "rollback" }).commit([
      { path: "one.txt", content: enc("one v1") },
    ]);
    const err = await ws
      .commit([
        { path: "one.txt", content: enc("one v2") },
        { path: "two.txt", content: enc("two") },
      ])
      .catch((e: unknown) => e);
    expect(isWorkspaceError(err, "write_failed")).toBe(true);
    expect((err as Error).message).toContain("simulated network failure");
    const check = new S3Workspace({ client, bucket: "taifeng-test", prefix: "rollback" });
    expect(dec(await check.readFile("one.txt"))).toBe("one v1");
    expect(await check.stat("two.txt")).toBeUndefined();
  });
});
