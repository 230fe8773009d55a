import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { mcpLogin } from "../src/mcp/login.ts";
import { McpManager } from "../src/mcp/manager.ts";
import { toolOutputText } from "../src/protocol/index.ts";
import { startOAuthServer } from "./fixtures/mcp/oauth-server.ts";
import { startCli } from "./helpers/cli.ts";
import { entries, freePort } from "./helpers/mcp.ts";

// OAuth 2.1 for HTTP MCP servers against a real authorization server (the official SDK's
// mcpAuthRouter): protected-resource discovery, dynamic client registration, PKCE, the
// loopback login, tokens stored 0600, refresh when the access token expires, and a second
// process that needs no login.

let home: string;
let oauth: Awaited<ReturnType<typeof startOAuthServer>>;
const managers: McpManager[] = [];

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "taifeng-mcp-oauth-"));
});
afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  await oauth?.close();
  await rm(home, { recursive: true, force: true });
});

async function open(redirectUrl: string): Promise<McpManager> {
  const m = await McpManager.open({
    servers: entries({ secure: { type: "http", url: oauth.url, oauth: { redirectUrl } } }),
    env: { HOME: home },
    connectTimeoutMs: 10_000,
  });
  managers.push(m);
  return m;
}

/** The person's browser: opens the page, follows the authorization server's redirect. */
async function browse(url: URL): Promise<string> {
  const page = await fetch(url, { redirect: "manual" });
  const location = page.headers.get("location");
  if (!location) throw new Error(`the authorization page answered ${page.status} without a redirect`);
  const back = await fetch(location);
  return back.text();
}

const whoami = async (m: McpManager) => {
  const result = await m.call("secure", "whoami", {});
  return toolOutputText(result.content.map((c) => (c.type === "text" ? c.text : "")).join(""));
};

describe("MCP over HTTP with OAuth", () => {
  it("logs in with dynamic registration and PKCE, stores the tokens privately, refreshes them, and a restart needs no login", async () => {
    oauth = await startOAuthServer({ accessTtlS: 1 });
    const redirect = `http://127.0.0.1:${await freePort()}/callback`;
    const first = await open(redirect);

    // No tokens yet: the server is unavailable with the exact URL to open and how to finish.
    const state = first.status()[0]?.state;
    expect(state?.status).toBe("failed");
    const error = state?.status === "failed" ? state.error : "";
    expect(error).toMatch(/needs a login: open http:\/\/127\.0\.0\.1:\d+\/authorize\?\S+ in a browser/);
    expect(error).toContain("taifeng mcp login secure");
    expect(oauth.stats.registrations).toBe(1);

    let opened: URL | undefined;
    let page = "";
    const result = await mcpLogin(first, "secure", {
      onAuthorizationUrl: async (url) => {
        opened = url;
        page = await browse(url);
      },
      timeoutMs: 20_000,
    });
    expect(result).toEqual({ status: "logged_in" });
    expect(page).toContain("Logged in");
    // PKCE (S256), a state the callback checked, the redirect on the loopback listener.
    expect(opened?.searchParams.get("code_challenge_method")).toBe("S256");
    expect(opened?.searchParams.get("code_challenge")).toBe(oauth.stats.challenges.at(-1));
    expect(opened?.searchParams.get("state")).toMatch(/^[\w-]{16,}$/);
    expect(opened?.searchParams.get("redirect_uri")).toBe(redirect);
    expect(oauth.stats).toMatchObject({ registrations: 1, codeExchanges: 1 });
    expect(first.status()[0]?.state.status).toBe("ready");
    expect(await whoami(first)).toMatch(/^client [\w-]+ with at_$/);

    // Stored for the user only: 0600 in a 0700 folder, client and tokens.
    const dir = join(home, ".taifeng", "mcp-auth");
    const file = join(dir, "secure.json");
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(file, "utf8")) as {
      client?: { client_id?: string };
      tokens?: { refresh_token?: string };
    };
    expect(saved.client?.client_id).toBeTruthy();
    expect(saved.tokens?.refresh_token).toMatch(/^rt_/);

    // The access token expires; the next call is refused once, refreshed, and goes through.
    await new Promise((r) => setTimeout(r, 1_200));
    const rejectedBefore = oauth.stats.rejected;
    expect(await whoami(first)).toMatch(/^client [\w-]+ with at_$/);
    // (A request already on its way with the old token may refresh once more: never with a
    // spent refresh token, never by asking the person again.)
    expect(oauth.stats.refreshes).toBeGreaterThanOrEqual(1);
    expect(oauth.stats).toMatchObject({ badRefreshes: 0, authorizations: 1 });
    expect(oauth.stats.rejected).toBeGreaterThan(rejectedBefore);
    await first.close();

    // Another process (a new manager) finds the stored tokens: no login, no new registration.
    const second = await open(redirect);
    expect(second.status()[0]?.state.status).toBe("ready");
    expect(await whoami(second)).toMatch(/^client [\w-]+ with at_$/);
    expect(oauth.stats).toMatchObject({ registrations: 1, authorizations: 1 });
  }, 60_000);

  it("a grant revoked mid-session fails the call with the login URL, and a new login brings it back", async () => {
    oauth = await startOAuthServer();
    const redirect = `http://127.0.0.1:${await freePort()}/callback`;
    const m = await open(redirect);
    expect(
      await mcpLogin(m, "secure", {
        onAuthorizationUrl: async (url) => void (await browse(url)),
        timeoutMs: 20_000,
      }),
    ).toEqual({
      status: "logged_in",
    });
    const engine = await AgentEngine.open({
      model: new SimClient({
        script: [
          { toolCalls: [{ id: "w1", name: "mcp__secure__whoami", arguments: {} }] },
          { text: "ok" },
          { toolCalls: [{ id: "w2", name: "mcp__secure__whoami", arguments: {} }] },
          { text: "ok" },
        ],
      }),
      cwd: home,
      ...m.engineOptions(),
    });
    await engine.submitAndWait("who am i");
    oauth.revokeAll();
    await engine.submitAndWait("and now?");
    const outputs = engine.items.flatMap((i) =>
      i.type === "function_call_output" ? [toolOutputText(i.output)] : [],
    );
    expect(outputs[0]).toMatch(/^client [\w-]+ with at_$/);
    expect(outputs[1]).toMatch(/needs a login: open http:\/\/127\.0\.0\.1:\d+\/authorize\?\S+ in a browser/);
    await engine.close();
    expect(
      await mcpLogin(m, "secure", {
        onAuthorizationUrl: async (url) => void (await browse(url)),
        timeoutMs: 20_000,
      }),
    ).toEqual({
      status: "logged_in",
    });
    expect(await whoami(m)).toMatch(/^client [\w-]+ with at_$/);
  }, 60_000);

  it("refuses a callback whose state does not match, and says so", async () => {
    oauth = await startOAuthServer();
    const redirect = `http://127.0.0.1:${await freePort()}/callback`;
    const m = await open(redirect);
    const result = await mcpLogin(m, "secure", {
      onAuthorizationUrl: async (url) => {
        // Someone else's code arrives at the listener, with a forged state.
        const page = await fetch(url, { redirect: "manual" });
        const location = new URL(page.headers.get("location") ?? "");
        location.searchParams.set("state", "forged");
        await fetch(location);
      },
      timeoutMs: 20_000,
    });
    expect(result).toEqual({ status: "failed", error: expect.stringContaining("state mismatch") });
    expect(oauth.stats.codeExchanges).toBe(0);
    expect(m.status()[0]?.state.status).toBe("failed");
  }, 60_000);

  it("taifeng mcp login prints the URL, waits for the browser, and then taifeng mcp call works", async () => {
    oauth = await startOAuthServer();
    const redirect = `http://127.0.0.1:${await freePort()}/callback`;
    const config = join(home, "mcp.json");
    await writeFile(
      config,
      JSON.stringify({
        mcpServers: { secure: { type: "http", url: oauth.url, oauth: { redirectUrl: redirect } } },
      }),
    );
    const env = { HOME: home };
    const login = startCli(["mcp", "login", "secure", "--mcp-config", config, "--timeout", "30"], {
      cwd: home,
      env,
    });
    let seen = "";
    const url = await new Promise<URL>((resolve, reject) => {
      login.child.stderr?.on("data", (d: Buffer) => {
        seen += d.toString();
        const m = /^(http:\/\/127\.0\.0\.1:\d+\/authorize\?\S+)$/m.exec(seen);
        if (m) resolve(new URL(m[1] as string));
      });
      login.child.once("exit", () => reject(new Error(`login exited: ${seen}`)));
    });
    expect(await browse(url)).toContain("Logged in");
    const done = await login.done;
    expect(done.stderr).toContain('Logged in to "secure".');
    expect(done.code).toBe(0);

    const call = await startCli(["mcp", "call", "secure", "whoami", "--mcp-config", config], {
      cwd: home,
      env,
    }).done;
    expect(call.stdout).toMatch(/^client [\w-]+ with at_$/m);
    expect(call.code).toBe(0);
    expect(oauth.stats).toMatchObject({ registrations: 1, authorizations: 1, codeExchanges: 1 });
  }, 60_000);
});
