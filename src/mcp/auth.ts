/**
 * OAuth 2.1 for HTTP MCP servers through the SDK's client provider seam: the SDK does the
 * protocol (protected-resource and authorization-server metadata, dynamic registration,
 * PKCE, token refresh); this provider keeps the client registration, tokens and PKCE
 * verifier of one server in a file only the user can read (0600, in a 0700 folder).
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type {
  OAuthClientMetadata,
  OAuthClientProvider,
  OAuthDiscoveryState,
  StoredOAuthClientInformation,
  StoredOAuthTokens,
} from "@modelcontextprotocol/client";
import type { McpOAuth, McpServerEntry } from "./config.ts";

/** Where Taifeng keeps MCP OAuth state: `~/.taifeng/mcp-auth`. */
export function defaultAuthDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HOME ?? homedir(), ".taifeng", "mcp-auth");
}

/** The redirect URL used when a server's `oauth` names none. */
export const DEFAULT_REDIRECT_URL = "http://127.0.0.1:33418/callback";

interface Saved {
  client?: StoredOAuthClientInformation;
  tokens?: StoredOAuthTokens;
  verifier?: string;
  /** Where the pending login's authorization server was found (checked on the way back). */
  discovery?: OAuthDiscoveryState;
}

/** Options for `fileOAuthProvider`. */
export interface FileOAuthOptions {
  /** The folder holding one `<server>.json` per server. Default `defaultAuthDir()`. */
  readonly dir?: string;
  /** Environment for `clientSecretEnv`. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Called with the URL a person must open to log in. Default: nothing; the connection then
   * fails with a message carrying the URL (see `pendingAuthorization`).
   */
  readonly onAuthorizationUrl?: (url: URL) => void | Promise<void>;
}

/** An OAuth client provider that persists to a private file; `pendingAuthorization` is the last login URL. */
export interface FileOAuthProvider extends OAuthClientProvider {
  readonly pendingAuthorization: URL | undefined;
  /** The `state` sent with the pending login URL; the callback must bring it back. */
  readonly pendingState: string | undefined;
}

/**
 * The provider for one server configured with `oauth`. Undefined for servers without it, so
 * it can be passed straight to `McpManager.open({ authProvider })`.
 */
export function fileOAuthProvider(
  entry: McpServerEntry,
  options: FileOAuthOptions = {},
): FileOAuthProvider | undefined {
  const config = entry.config;
  if (!("oauth" in config) || config.oauth === undefined) return undefined;
  const oauth: McpOAuth = config.oauth === true ? {} : config.oauth;
  const env = options.env ?? process.env;
  const dir = options.dir ?? defaultAuthDir(env);
  const file = join(dir, `${entry.name}.json`);
  const redirectUrl = oauth.redirectUrl ?? DEFAULT_REDIRECT_URL;
  let cache: Saved | undefined;
  let pending: URL | undefined;
  let pendingState: string | undefined;
  const load = async (): Promise<Saved> => {
    if (cache) return cache;
    try {
      cache = JSON.parse(await readFile(file, "utf8")) as Saved;
    } catch {
      cache = {};
    }
    return cache;
  };
  // Saves run one after another (the SDK may save tokens and a verifier at once), each
  // through its own temporary file renamed over the old one.
  let saving: Promise<void> = Promise.resolve();
  let seq = 0;
  const write = async () => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${++seq}.tmp`;
    await writeFile(tmp, JSON.stringify(cache), { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  };
  const save = async (patch: Partial<Saved>) => {
    cache = { ...(await load()), ...patch };
    const done = saving.then(write, write);
    saving = done.catch(() => undefined);
    await done;
  };
  const secret = oauth.clientSecretEnv ? env[oauth.clientSecretEnv] : undefined;
  const metadata: OAuthClientMetadata = {
    client_name: "Taifeng",
    redirect_uris: [redirectUrl],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: secret ? "client_secret_basic" : "none",
    ...(oauth.scope ? { scope: oauth.scope } : {}),
  };
  return {
    get pendingAuthorization() {
      return pending;
    },
    get pendingState() {
      return pendingState;
    },
    state() {
      pendingState = randomBytes(16).toString("base64url");
      return pendingState;
    },
    get redirectUrl() {
      return redirectUrl;
    },
    get clientMetadata() {
      return metadata;
    },
    async clientInformation() {
      if (oauth.clientId) return { client_id: oauth.clientId, ...(secret ? { client_secret: secret } : {}) };
      return (await load()).client;
    },
    async saveClientInformation(info) {
      await save({ client: info });
    },
    async tokens() {
      return (await load()).tokens;
    },
    async saveTokens(tokens) {
      pending = undefined;
      await save({ tokens });
    },
    async redirectToAuthorization(url) {
      pending = url;
      await options.onAuthorizationUrl?.(url);
    },
    async saveCodeVerifier(verifier) {
      await save({ verifier });
    },
    // The server said stored credentials are no longer valid (a revoked grant, a spent
    // refresh token): forget them, so the next attempt starts a fresh login.
    async invalidateCredentials(scope) {
      const field = {
        client: "client",
        tokens: "tokens",
        verifier: "verifier",
        discovery: "discovery",
      } as const;
      if (scope === "all")
        await save({ client: undefined, tokens: undefined, verifier: undefined, discovery: undefined });
      else await save({ [field[scope]]: undefined });
    },
    async saveDiscoveryState(discovery) {
      await save({ discovery });
    },
    async discoveryState() {
      return (await load()).discovery;
    },
    async codeVerifier() {
      const verifier = (await load()).verifier;
      if (!verifier)
        throw new Error(`no PKCE verifier saved for MCP server "${entry.name}": start the login again`);
      return verifier;
    },
  };
}

/**
 * `fetch` that sends one refresh request per refresh token: concurrent requests that all
 * found their access token expired (a call and the event stream, say) share the first
 * refresh's answer instead of spending a rotated refresh token twice. Other requests pass.
 */
export function refreshOnce(base: typeof fetch = fetch): typeof fetch {
  const inflight = new Map<string, Promise<Response>>();
  return async (input, init) => {
    const body = init?.body;
    if (!(body instanceof URLSearchParams) || body.get("grant_type") !== "refresh_token")
      return base(input, init);
    const key = body.get("refresh_token") ?? "";
    let answer = inflight.get(key);
    if (!answer) {
      answer = base(input, init);
      inflight.set(key, answer);
      // Kept a little after it settles: a request that failed just after it still shares it.
      const forget = () => setTimeout(() => inflight.delete(key), 10_000).unref();
      answer.then(forget, forget);
    }
    return (await answer).clone();
  };
}
