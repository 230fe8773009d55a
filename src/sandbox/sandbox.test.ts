import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "./sandbox.ts";
import { bwrapInvocation, sandboxCommandLine, shellQuote } from "./srt/client.ts";
import type { RunRequest, RunResult, SandboxPolicy } from "./types.ts";
import { withLimits } from "./wrap.ts";

let dir: string;
let workspace: string;
let outside: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-sandbox-"));
  workspace = join(dir, "ws");
  outside = join(dir, "outside");
  await mkdir(workspace);
  await mkdir(outside);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function request(script: string, extra: Partial<RunRequest> = {}): RunRequest {
  return {
    argv: ["/bin/bash", "-c", script],
    cwd: workspace,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    timeoutMs: 0,
    signal: new AbortController().signal,
    killGraceMs: 200,
    ...extra,
  };
}

function level0(extra: Partial<SandboxPolicy> = {}): Sandbox {
  return new Sandbox({ level: 0, writable: [workspace], network: false, ...extra });
}

/** True while the pid exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

async function waitGone(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 20));
  return pids.filter(alive);
}

function pidsIn(output: string): number[] {
  return [...output.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
}

function exited(r: RunResult): Extract<RunResult, { output: string }> {
  if (!("output" in r)) throw new Error(`expected the command to run, got ${r.status}: ${r.message}`);
  return r;
}

describe("level 0 (subprocess)", () => {
  it("runs a command and reports exit code and interleaved output", async () => {
    const r = exited(await level0().run(request("echo out; echo err >&2; exit 3")));
    expect(r).toMatchObject({ status: "exited", exitCode: 3, output: "out\nerr\n", omittedBytes: 0 });
    expect(r.sandbox).toEqual({ level: 0, runner: "subprocess", network: true });
  });

  it("kills the whole process tree on abort, grandchildren included", async () => {
    const controller = new AbortController();
    let seen = "";
    const pending = level0().run(
      request(`sleep 300 & echo pid=$!; bash -c 'sleep 300 & echo pid=$!; wait' & echo pid=$!; wait`, {
        signal: controller.signal,
        onOutput: (chunk) => {
          seen += chunk.toString();
          if (pidsIn(seen).length === 3) controller.abort();
        },
      }),
    );
    const r = exited(await pending);
    expect(r.status).toBe("aborted");
    const pids = pidsIn(r.output);
    expect(pids).toHaveLength(3);
    expect(await waitGone(pids)).toEqual([]);
  });

  it("kills the tree on timeout and keeps the output so far", async () => {
    const r = exited(
      await level0().run(request("echo started; sleep 300 & echo pid=$!; wait", { timeoutMs: 300 })),
    );
    expect(r.status).toBe("timeout");
    expect(r.output).toContain("started");
    expect(await waitGone(pidsIn(r.output))).toEqual([]);
  });

  it("kills what a finished command left running in its group", async () => {
    const r = exited(await level0().run(request("sleep 300 & echo pid=$!")));
    expect(r.status).toBe("exited");
    expect(await waitGone(pidsIn(r.output))).toEqual([]);
  });

  it("applies resource limits", async () => {
    const sandbox = level0({ limits: { fileSizeMb: 1 } });
    const r = exited(await sandbox.run(request(`head -c 3000000 /dev/zero > big.bin; echo status=$?`)));
    expect(r.output).toMatch(/status=(153|1)|File size limit exceeded/);
    expect((await readFile(join(workspace, "big.bin"))).length).toBeLessThanOrEqual(1024 * 1024);
  });

  it("keeps the head and tail of huge output", async () => {
    const r = exited(await level0().run(request("seq 1 200000", { maxCaptureBytes: 1000 })));
    expect(r.output.startsWith("1\n2\n3\n")).toBe(true);
    expect(r.output.endsWith("199999\n200000\n")).toBe(true);
    expect(r.omittedBytes).toBeGreaterThan(1_000_000);
    expect(r.output).toContain(`[... ${r.omittedBytes} bytes of output omitted ...]`);
  });

  it("reports a command that cannot start", async () => {
    const r = await level0().run({ ...request(""), argv: ["/nonexistent/tool"] });
    expect(r.status).toBe("spawn_failed");
  });
});

describe("argument construction", () => {
  it("wraps argv in ulimit only when limits are set", () => {
    expect(withLimits(["ls", "-l"], undefined)).toEqual(["ls", "-l"]);
    expect(
      withLimits(["ls"], { cpuSeconds: 5, memoryMb: 512, fileSizeMb: 10, openFiles: 64, processes: 50 }),
    ).toEqual([
      "/bin/bash",
      "-c",
      'ulimit -t 5 && ulimit -v 524288 && ulimit -f 10240 && ulimit -n 64 && ulimit -u 50 && exec "$@"',
      "taifeng-limits",
      "ls",
    ]);
  });

  it("quotes an argv into the line the level-1 sandbox runs, with the private /tmp as TMPDIR", () => {
    expect(sandboxCommandLine(["/bin/bash", "-c", "echo 'hi' $HOME", "a b", ""], "/tmp")).toBe(
      `export TMPDIR=/tmp; exec /bin/bash -c 'echo '"'"'hi'"'"' $HOME' 'a b' ''`,
    );
    expect(shellQuote("plain/path-1.txt")).toBe("plain/path-1.txt");
  });

  it("skips the watchdog only for a line that is bubblewrap with --die-with-parent", () => {
    const args =
      "--new-session --die-with-parent --unshare-net --ro-bind / / -- /usr/bin/bash -c 'exec true'";
    expect(bwrapInvocation(`bwrap ${args}`, undefined)).toBe(true);
    expect(bwrapInvocation(`/opt/bw/bwrap ${args}`, "/opt/bw/bwrap")).toBe(true);
    expect(
      bwrapInvocation(
        `/bin/sh -c 'exec 9<"$1" && shift && exec "$@"' srt-args /tmp/p bwrap ${args}`,
        undefined,
      ),
    ).toBe(true);
    // Another shape (the runtime changed, or no sandbox was needed): keep the lifeline.
    expect(bwrapInvocation("bwrap --new-session --unshare-net -- true", undefined)).toBe(false);
    expect(bwrapInvocation(`env X=1 bwrap ${args}`, undefined)).toBe(false);
    expect(bwrapInvocation(`true; bwrap ${args}`, undefined)).toBe(false);
    expect(bwrapInvocation("export TMPDIR=/tmp; exec true", undefined)).toBe(false);
  });
});

describe("level 1 unavailable", () => {
  it("fails with a clear error naming bubblewrap", async () => {
    const sandbox = new Sandbox(
      { level: 1, writable: [workspace], network: false },
      { bwrapPath: "/nonexistent/bwrap" },
    );
    const r = await sandbox.run(request("echo hi"));
    sandbox.close();
    expect(r.status).toBe("sandbox_unavailable");
    expect("message" in r && r.message).toMatch(
      /^sandbox level 1 cannot run here: .*\/nonexistent\/bwrap.*install bubblewrap.*Or use sandbox level 0\.$/s,
    );
  });

  it("falls back to level 0 when the policy allows it, and says so", async () => {
    const sandbox = new Sandbox(
      { level: 1, writable: [workspace], network: false, fallback: "level0" },
      { bwrapPath: "/nonexistent/bwrap" },
    );
    const r = exited(await sandbox.run(request("echo hi")));
    sandbox.close();
    expect(r.output).toBe("hi\n");
    expect(r.sandbox.level).toBe(0);
    expect(r.sandbox.fallbackReason).toMatch(/\/nonexistent\/bwrap/);
  });
});
