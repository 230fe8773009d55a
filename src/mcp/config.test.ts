// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the tests are about ${VAR} expansion in config strings.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadMcpConfig, parseMcpFile } from "./config.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-mcp-config-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const env = { HOME: "/home/u", TOKEN: "sekrit", EMPTY: "" };
const parse = (raw: unknown) => parseMcpFile(raw, "/p/.mcp.json", env);

describe(".mcp.json parsing", () => {
  it("accepts Claude Code's shape and expands ${VAR} and ${VAR:-default}", () => {
    const servers = parse({
      mcpServers: {
        files: { command: "npx", args: ["-y", "srv", "${HOME}/data"], env: { KEY: "${TOKEN}" }, cwd: "sub" },
        api: {
          type: "http",
          url: "https://api.example.com/mcp",
          headers: { Authorization: "Bearer ${TOKEN}", X: "${MISSING:-none}" },
        },
        old: { type: "sse", url: "http://127.0.0.1:9/sse" },
      },
    });
    expect(servers.map((s) => s.name)).toEqual(["files", "api", "old"]);
    expect(servers[0]?.config).toEqual({
      command: "npx",
      args: ["-y", "srv", "/home/u/data"],
      env: { KEY: "sekrit" },
      cwd: "/p/sub",
    });
    expect(servers[1]?.config).toMatchObject({ headers: { Authorization: "Bearer sekrit", X: "none" } });
    expect(servers[2]?.config.type).toBe("sse");
  });

  it.each([
    [[1, 2], /\.mcp\.json: must be a JSON object with "mcpServers"/],
    [{}, /\.mcp\.json: missing "mcpServers"/],
    [{ mcpServers: {}, servers: {} }, /unknown key "servers" \(expected only "mcpServers"\)/],
    [{ mcpServers: [] }, /"mcpServers" must be an object of named servers/],
    [{ mcpServers: { "a b": { command: "x" } } }, /server name "a b" must be 1-64 letters/],
    [{ mcpServers: { a__b: { command: "x" } } }, /server name "a__b" .* without "__"/],
    [{ mcpServers: { s: "npx srv" } }, /server "s" must be an object/],
    [{ mcpServers: { s: {} } }, /server "s", field "command": /],
    [{ mcpServers: { s: { command: "" } } }, /server "s", field "command": /],
    [{ mcpServers: { s: { command: "x", args: "a b" } } }, /server "s", field "args": /],
    [{ mcpServers: { s: { command: "x", env: { A: 1 } } } }, /server "s", field "env.A": /],
    [
      { mcpServers: { s: { command: "x", comand: "y" } } },
      /server "s": unknown key "comand"; did you mean "command"\?/,
    ],
    [{ mcpServers: { s: { command: "x", timeoutMs: -5 } } }, /server "s", field "timeoutMs": /],
    [{ mcpServers: { s: { command: "x", startup: "later" } } }, /server "s", field "startup": /],
    [{ mcpServers: { s: { command: "x", protocol: "2026" } } }, /server "s", field "protocol": /],
    [
      { mcpServers: { s: { type: "websocket", url: "ws://x" } } },
      /server "s", field "type": must be "stdio", "http" or "sse", not "websocket"/,
    ],
    [{ mcpServers: { s: { url: "http://x/mcp" } } }, /server "s": has a "url" but no "type"/],
    [{ mcpServers: { s: { type: "http" } } }, /server "s", field "url": /],
    [{ mcpServers: { s: { type: "http", url: "not a url" } } }, /server "s", field "url": /],
    [{ mcpServers: { s: { type: "http", url: "ftp://x/mcp" } } }, /server "s", field "url": /],
    [
      { mcpServers: { s: { type: "http", url: "http://x", command: "y" } } },
      /server "s": unknown key "command"; known keys: type, url/,
    ],
    [
      { mcpServers: { s: { type: "http", url: "http://x", headers: { A: "${NOPE}" } } } },
      /server "s", field "headers.A": environment variable NOPE is not set/,
    ],
    [
      { mcpServers: { s: { command: "${EMPTY}" } } },
      /server "s", field "command": environment variable EMPTY is not set/,
    ],
    [
      { mcpServers: { s: { type: "http", url: "http://x", bearerTokenEnv: "TOKEN", oauth: true } } },
      /bearerTokenEnv and oauth exclude each other/,
    ],
    [
      { mcpServers: { s: { type: "http", url: "http://x", oauth: { clientID: "a" } } } },
      /server "s", field "oauth".*/,
    ],
  ])("rejects %j naming the file, server and field", (raw, message) => {
    expect(() => parse(raw)).toThrow(message);
    try {
      parse(raw);
    } catch (err) {
      expect((err as { code?: string }).code).toBe("invalid_config");
      expect(String(err)).toContain("/p/.mcp.json");
    }
  });
});

describe("loadMcpConfig", () => {
  async function files(project: unknown, user?: unknown) {
    await writeFile(join(dir, ".mcp.json"), JSON.stringify(project));
    if (user !== undefined) {
      await mkdir(join(dir, "home", ".taifeng"), { recursive: true });
      await writeFile(join(dir, "home", ".taifeng", "mcp.json"), JSON.stringify(user));
    }
  }

  it("loads the project file only from a trusted folder, and says it skipped it otherwise", async () => {
    await files({ mcpServers: { p: { command: "x" } } });
    const untrusted = await loadMcpConfig({ cwd: dir, userDir: false, env });
    expect(untrusted.servers).toEqual([]);
    expect(untrusted.skippedProjectFile).toBe(join(dir, ".mcp.json"));
    const trusted = await loadMcpConfig({ cwd: dir, userDir: false, env, trusted: true });
    expect(trusted.servers.map((s) => [s.name, s.source.scope])).toEqual([["p", "project"]]);
  });

  it("merges user < project < host, a later source replacing a server of the same name", async () => {
    await files(
      { mcpServers: { shared: { command: "project" }, p: { command: "p" } } },
      { mcpServers: { shared: { command: "user" }, u: { command: "u" } } },
    );
    const config = await loadMcpConfig({
      cwd: dir,
      userDir: join(dir, "home", ".taifeng"),
      env,
      trusted: true,
      servers: { h: { command: "host" }, p: { command: "host-p" } },
    });
    const byName = Object.fromEntries(
      config.servers.map((s) => [s.name, (s.config as { command: string }).command]),
    );
    expect(byName).toEqual({ shared: "project", u: "u", p: "host-p", h: "host" });
  });

  it("reports a malformed file with its path", async () => {
    await writeFile(join(dir, ".mcp.json"), "{ not json");
    await expect(loadMcpConfig({ cwd: dir, userDir: false, trusted: true })).rejects.toThrow(
      new RegExp(`${join(dir, ".mcp.json")}: is not valid JSON`),
    );
    await expect(loadMcpConfig({ cwd: dir, userDir: false, files: ["nope.json"] })).rejects.toThrow(
      /nope\.json: no such file/,
    );
  });
});
