import { mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli } from "./helpers/cli.ts";
import { helpersIn, level1Tests, processesWith, waitUntilGone } from "./helpers/sandbox.ts";

// No tool process outlives the CLI that started it: not after kill -9 (no cleanup runs at
// all), not after a second Ctrl-C (the CLI exits at once). The bash command ignores SIGTERM
// and SIGINT, as a careless or hostile one would, and the test polls /proc for it.

const level1 = await level1Tests();
let dir: string;

beforeAll(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), "taifeng-orphans-")));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function startTool(level: 0 | 1, marker: string) {
  const workspace = await realpath(await mkdtemp(join(dir, "ws-")));
  const command = `trap '' TERM INT HUP; sleep ${marker} & sleep ${marker} & wait`;
  const script = join(dir, `script-${marker}.json`);
  await writeFile(
    script,
    JSON.stringify({ steps: [{ toolCalls: [{ name: "bash", arguments: { command } }] }, { text: "done" }] }),
  );
  const cli = startCli(
    ["run", "go", "--json", "--model", `sim:${script}`, "--allow", "Bash", "--sandbox", String(level)],
    { cwd: workspace },
  );
  const sleepers = () => processesWith(`sleep ${marker}`, true);
  // Wait for the tool to be running: both sleepers.
  const deadline = Date.now() + 60_000;
  while (sleepers().length < 2 && Date.now() < deadline) {
    if (cli.child.exitCode !== null) throw new Error(`the CLI exited early: ${(await cli.done).stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  expect(sleepers()).toHaveLength(2);
  if (level === 1) expect(helpersIn(workspace)).toHaveLength(1);
  // Every process the run started for the tool: the command's and the level-1 helper.
  const left = () => [...sleepers(), ...helpersIn(workspace)];
  return { cli, left };
}

function cleanup(marker: string): void {
  for (const pid of processesWith(marker)) process.kill(pid, "SIGKILL");
}

const levels: (0 | 1)[] = level1.run ? [0, 1] : [0];

// Generous timeouts: a level-1 helper starts a Node process and its proxies first, which
// takes seconds on a busy machine.
describe.each(levels)("no orphaned tool processes at level %i", { timeout: 120_000 }, (level) => {
  it("after kill -9 of the CLI mid-tool", async () => {
    const marker = `${5000 + Math.floor(Math.random() * 4000)}.${level}1`;
    try {
      const { cli, left } = await startTool(level, marker);
      cli.child.kill("SIGKILL");
      expect((await cli.done).signal).toBe("SIGKILL");
      expect(await waitUntilGone(left, 5000)).toEqual([]);
    } finally {
      cleanup(marker);
    }
  });

  it("after a second Ctrl-C", async () => {
    const marker = `${5000 + Math.floor(Math.random() * 4000)}.${level}2`;
    try {
      const { cli, left } = await startTool(level, marker);
      cli.child.kill("SIGINT");
      await new Promise((resolve) => setTimeout(resolve, 100));
      cli.child.kill("SIGINT");
      // Exit 130, or death by SIGINT when the second Ctrl-C lands while the process is already
      // tearing down after the first one (Node has put back the default handler by then): a
      // shell reports 130 for both. Anything else (a crash, SIGKILL from a watchdog) fails.
      const { code, signal } = await cli.done;
      expect(code === 130 || (code === null && signal === "SIGINT")).toBe(true);
      expect(await waitUntilGone(left, 5000)).toEqual([]);
    } finally {
      cleanup(marker);
    }
  });
});

describe("no orphaned MCP servers", { timeout: 120_000 }, () => {
  it("a stdio server and its children die with the CLI after kill -9", async () => {
    const marker = `${5000 + Math.floor(Math.random() * 4000)}.93`;
    const server = join(process.cwd(), "node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    const config = join(dir, `mcp-${marker}.json`);
    // The server starts a child of its own (a sleep), as real servers start workers.
    await writeFile(
      config,
      JSON.stringify({
        mcpServers: {
          everything: {
            command: "/bin/sh",
            // The trailing marker argument (ignored by the server) tells its process apart.
            args: ["-c", `sleep ${marker} & exec "${process.execPath}" "${server}" stdio mcp-${marker}`],
          },
        },
      }),
    );
    const toolMarker = `${5000 + Math.floor(Math.random() * 4000)}.94`;
    const script = join(dir, `script-${marker}.json`);
    await writeFile(
      script,
      JSON.stringify({
        steps: [
          { toolCalls: [{ name: "bash", arguments: { command: `sleep ${toolMarker}` } }] },
          { text: "done" },
        ],
      }),
    );
    const cli = startCli(
      ["run", "go", "--json", "--model", `sim:${script}`, "--allow", "Bash", "--mcp-config", config],
      { cwd: dir },
    );
    try {
      const serverProcs = () => [
        ...processesWith(`sleep ${marker}`, true),
        ...processesWith(`mcp-${marker}`),
      ];
      const deadline = Date.now() + 60_000;
      // The tool runs once the servers are up: wait for it, then the server is certainly alive.
      while (processesWith(`sleep ${toolMarker}`, true).length < 1 && Date.now() < deadline) {
        if (cli.child.exitCode !== null) throw new Error(`the CLI exited early: ${(await cli.done).stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(serverProcs().length).toBeGreaterThanOrEqual(2);
      cli.child.kill("SIGKILL");
      expect((await cli.done).signal).toBe("SIGKILL");
      expect(await waitUntilGone(serverProcs, 5000)).toEqual([]);
    } finally {
      cleanup(marker);
      cleanup(toolMarker);
    }
  });
});
