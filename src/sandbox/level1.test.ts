import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server } from "node:net";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { level1Tests, processesWith, waitUntilGone } from "../../test/helpers/sandbox.ts";
import { subprocessEnv } from "./env.ts";
import { Sandbox } from "./sandbox.ts";
import type { RunRequest, RunResult, SandboxPolicy } from "./types.ts";

// Every isolation claim of level 1, tried as an attacker would from inside. Each test fails
// when the isolation it names breaks. Under CI=true these run even where level 1 cannot
// (and then fail): see test/helpers/sandbox.ts.

const gate = await level1Tests();

let dir: string;
let home: string;
let workspace: string;
let outside: string;
const sandboxes: Sandbox[] = [];
let shared: Sandbox | undefined;

const SECRET = "planted-secret-5b1e";

beforeAll(async () => {
  // Not under /tmp: level 1 hides the host's /tmp entirely, which would make this vacuous.
  dir = await realpath(await mkdtemp("/var/tmp/taifeng-level1-"));
  home = join(dir, "home");
  // The workspace sits in a project folder with a .env beside it, as checkouts often do.
  workspace = join(dir, "projects", "app");
  outside = join(dir, "outside");
  await mkdir(workspace, { recursive: true });
  await mkdir(outside);
  const plant: Record<string, string> = {
    ".ssh/id_rsa": `-----BEGIN OPENSSH PRIVATE KEY----- ${SECRET}`,
    ".aws/credentials": `aws_secret_access_key = ${SECRET}`,
    ".config/gcloud/credentials.db": SECRET,
    ".netrc": `machine api.example.com password ${SECRET}`,
    ".docker/config.json": `{"auths":{"x":{"auth":"${SECRET}"}}}`,
    ".kube/config": `token: ${SECRET}`,
    ".env": `OPENAI_API_KEY=${SECRET}`,
    "code/other-project/.env.local": `DATABASE_URL=${SECRET}`,
    ".taifeng/mcp-auth/server.json": `{"access_token":"${SECRET}"}`,
    ".taifeng/threads/thr_other.jsonl": `{"text":"${SECRET}"}`,
    ".npmrc": `//registry.npmjs.org/:_authToken=${SECRET}`,
    ".claude/.credentials.json": `{"token":"${SECRET}"}`,
    ".bash_history": `export GH_TOKEN=${SECRET}`,
    ".pgpass": `db:5432:app:me:${SECRET}`,
    ".config/rclone/rclone.conf": `token = ${SECRET}`,
  };
  for (const [path, text] of Object.entries(plant)) {
    await mkdir(dirname(join(home, path)), { recursive: true });
    await writeFile(join(home, path), text);
  }
  await writeFile(join(dir, "projects", ".env"), `GH_PAT=${SECRET}`);
  await writeFile(join(workspace, ".env"), "APP_MODE=dev");
});

afterAll(async () => {
  for (const s of sandboxes) s.close();
  await rm(dir, { recursive: true, force: true });
});

/** A level-1 sandbox on the workspace: the shared one (no network) unless a policy is given. */
function sandbox(policy?: Partial<SandboxPolicy>): Sandbox {
  if (!policy && shared) return shared;
  const s = new Sandbox({ level: 1, writable: [workspace], network: false, ...policy }, { home });
  sandboxes.push(s);
  if (!policy) shared = s;
  return s;
}

function request(script: string, extra: Partial<RunRequest> = {}): RunRequest {
  return {
    argv: ["/bin/bash", "-c", script],
    cwd: workspace,
    env: subprocessEnv({ set: { HOME: home } }),
    timeoutMs: 60_000,
    signal: new AbortController().signal,
    killGraceMs: 200,
    ...extra,
  };
}

async function output(s: Sandbox, script: string, extra: Partial<RunRequest> = {}): Promise<string> {
  const r: RunResult = await s.run(request(script, extra));
  if (!("output" in r)) throw new Error(`the command did not run: ${r.status}: ${r.message}`);
  expect(r.sandbox).toMatchObject({ level: 1, runner: "bubblewrap" });
  return r.output;
}

// Generous timeouts: each sandbox starts a helper process and its proxies first, which takes
// seconds on a busy machine.
describe.skipIf(!gate.run)("level 1 (@anthropic-ai/sandbox-runtime)", { timeout: 120_000 }, () => {
  it("is available (in CI it must be)", () => {
    expect(gate.reason).toBeUndefined();
  });

  it("blocks host Unix sockets, even one in the writable workspace", async () => {
    const socketPath = join(workspace, "host.sock");
    let connections = 0;
    const server: Server = createServer((socket) => {
      connections++;
      socket.end("host socket reached\n");
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const probe = `require("net").connect(${JSON.stringify(socketPath)}).on("data", (d) => process.stdout.write(String(d))).on("error", (e) => console.log("refused", e.code))`;
      const out = await output(sandbox(), `${JSON.stringify(process.execPath)} -e '${probe}'`);
      expect(out).toContain("refused EPERM");
      expect(out).not.toContain("host socket reached");
      expect(connections).toBe(0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("hides secrets: keys and credentials in HOME, .env files outside the workspace, /etc/shadow", async () => {
    const paths = [
      ".ssh/id_rsa",
      ".aws/credentials",
      ".config/gcloud/credentials.db",
      ".netrc",
      ".docker/config.json",
      ".kube/config",
      ".env",
      "code/other-project/.env.local",
      ".taifeng/mcp-auth/server.json",
      ".taifeng/threads/thr_other.jsonl",
      ".npmrc",
      ".claude/.credentials.json",
      ".bash_history",
      ".pgpass",
      ".config/rclone/rclone.conf",
    ].map((p) => join(home, p));
    paths.push(join(dir, "projects", ".env"));
    const out = await output(sandbox(), `cat ${paths.map((p) => `'${p}'`).join(" ")} 2>&1; cat .env`);
    expect(out).not.toContain(SECRET);
    // The workspace's own .env stays readable.
    expect(out).toContain("APP_MODE=dev");
    if (existsSync("/etc/shadow") && readFileSync("/etc/shadow", "utf8").length > 0) {
      const shadow = await output(sandbox(), "head -c 200 /etc/shadow || echo unreadable");
      expect(shadow).toContain("unreadable");
      expect(shadow).not.toMatch(/^root:/m);
    }
  });

  it("shows a default-hidden path the policy reveals", async () => {
    const out = await output(sandbox({ reveal: [join(home, ".netrc")] }), `cat '${join(home, ".netrc")}'`);
    expect(out).toContain(SECRET);
  });

  it("writes only to the workspace and a private /tmp", async () => {
    const script = [
      "echo inside > inside.txt && echo wrote-inside",
      `echo x > '${outside}/escape.txt' 2>/dev/null || echo outside-refused`,
      `echo x > '${home}/escape.txt' 2>/dev/null || echo home-refused`,
      "echo x > /usr/taifeng-escape 2>/dev/null || echo usr-refused",
      "echo private > /tmp/taifeng-private && cat /tmp/taifeng-private && echo TMPDIR=$TMPDIR",
    ].join("; ");
    const out = await output(sandbox(), script);
    expect(out).toContain("wrote-inside");
    expect(out).toContain("outside-refused");
    expect(out).toContain("home-refused");
    expect(out).toContain("usr-refused");
    expect(out).toContain("private\nTMPDIR=/tmp");
    expect(await readFile(join(workspace, "inside.txt"), "utf8")).toBe("inside\n");
    expect(existsSync(join(outside, "escape.txt"))).toBe(false);
    expect(existsSync(join(home, "escape.txt"))).toBe(false);
    expect(existsSync("/usr/taifeng-escape")).toBe(false);
    // The private /tmp is not the host's.
    expect(existsSync("/tmp/taifeng-private")).toBe(false);
  });

  it("keeps the helper's code read-only when the workspace contains it (this checkout)", async () => {
    // The repository root holds src/sandbox/srt and the node_modules the runtime loads from:
    // a command able to change them would change what the next helper runs unsandboxed.
    const root = await realpath(join(import.meta.dirname, "..", ".."));
    const scratch = join(root, ".taifeng-tmp");
    await mkdir(scratch, { recursive: true });
    const marker = `taifeng-level1-${process.pid}`;
    const targets = [join(root, "src", "sandbox", "srt", marker), join(root, "node_modules", marker)];
    try {
      const out = await output(
        sandbox({ writable: [root] }),
        [
          ...targets.map(
            (t, i) => `{ echo x > '${t}'; } 2>/dev/null && echo wrote-${i} || echo refused-${i}`,
          ),
          `echo x > '${join(scratch, marker)}' && echo wrote-scratch`,
        ].join("; "),
        { cwd: root },
      );
      expect(out).toBe("refused-0\nrefused-1\nwrote-scratch\n");
      for (const t of targets) expect(existsSync(t)).toBe(false);
    } finally {
      for (const t of [...targets, join(scratch, marker)]) await rm(t, { force: true });
    }
  });

  it("refuses new user and mount namespaces", async () => {
    const out = await output(
      sandbox(),
      "for f in -U -r -m; do unshare $f true 2>/dev/null && echo unshare$f-worked || echo unshare$f-refused; done",
    );
    expect(out).toBe("unshare-U-refused\nunshare-r-refused\nunshare-m-refused\n");
  });

  describe("network", () => {
    let allowed: HttpServer;
    let other: HttpServer;
    const port = (s: HttpServer) => (s.address() as { port: number }).port;
    const listen = async (text: string) => {
      const server = createHttpServer((_req, res) => res.end(text));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      return server;
    };

    beforeAll(async () => {
      allowed = await listen("allowed-server");
      other = await listen("other-server");
    });

    afterAll(async () => {
      await Promise.all([allowed, other].map((s) => new Promise((resolve) => s.close(resolve))));
    });

    // --noproxy '' makes curl use the proxy for 127.0.0.1 too (the proxy variables exempt it).
    const fetch = (url: string, label: string) =>
      `curl -s -m 10 --noproxy '' ${url}; echo " ${label}=$?"; curl -s -m 5 --noproxy '*' ${url}; echo " ${label}-direct=$?"`;

    it("reaches only listed domains, through the filtering proxy", async () => {
      const s = sandbox({ network: { allow: [`127.0.0.1:${port(allowed)}`] } });
      const out = await output(
        s,
        [
          fetch(`http://127.0.0.1:${port(allowed)}/`, "allowed"),
          fetch(`http://127.0.0.1:${port(other)}/`, "other"),
        ].join("; "),
      );
      expect(out).toContain("allowed-server allowed=0");
      expect(out).not.toContain("other-server");
      expect(out).toContain("Connection blocked by network allowlist");
      // Around the proxy there is no network at all.
      expect(out).toMatch(/ allowed-direct=7/);
      expect(out).toMatch(/ other-direct=7/);
    });

    it("has no network when none is allowed", async () => {
      const out = await output(sandbox(), fetch(`http://127.0.0.1:${port(allowed)}/`, "allowed"));
      expect(out).not.toContain("allowed-server");
      expect(out).toMatch(/ allowed-direct=7/);
    });
  });

  it("kills everything inside on abort", async () => {
    const controller = new AbortController();
    const r = await sandbox().run(
      request("sleep 317 & sleep 317 & echo ready; wait", {
        signal: controller.signal,
        onOutput: (c) => c.toString().includes("ready") && controller.abort(),
      }),
    );
    expect(r.status).toBe("aborted");
    expect(await waitUntilGone(() => processesWith("sleep 317"), 5000)).toEqual([]);
  });
});
