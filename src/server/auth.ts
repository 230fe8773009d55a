/** Bearer tokens (constant-time), per-token rate limits and the loopback Host check. */
import { createHash, timingSafeEqual } from "node:crypto";
import { TaifengError } from "../errors.ts";

/** Shortest token accepted: anything shorter can be guessed. */
export const MIN_TOKEN_LENGTH = 16;

/** The accepted tokens, kept only as SHA-256 digests. */
export interface TokenSet {
  /** The index of the matching token, or -1. Takes the same time whatever the input. */
  match(presented: string): number;
  readonly size: number;
}

/**
 * Reads the tokens from the named environment variables. Throws TaifengError
 * `invalid_config` naming a variable that is unset or too short.
 */
export function tokensFromEnv(
  names: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): TokenSet {
  const digests = names.map((name) => {
    const value = env[name];
    if (value === undefined || value === "")
      throw new TaifengError("invalid_config", `server.tokens: environment variable ${name} is not set`);
    if (value.length < MIN_TOKEN_LENGTH)
      throw new TaifengError(
        "invalid_config",
        `server.tokens: the token in ${name} is shorter than ${MIN_TOKEN_LENGTH} characters`,
      );
    return digest(value);
  });
  return {
    size: digests.length,
    match(presented) {
      const d = digest(presented);
      let found = -1;
      // Every token is compared, so timing says nothing about which (or whether one) matched.
      for (let i = 0; i < digests.length; i++)
        if (timingSafeEqual(d, digests[i] as Buffer) && found < 0) found = i;
      return found;
    },
  };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** The token of an `Authorization: Bearer ...` header, if it has that form. */
export function bearer(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return m?.[1];
}

/**
 * A token bucket per key (token index or client address): `perMinute` requests, refilled
 * continuously. Keys idle for a while are forgotten.
 */
export class RateLimiter {
  private readonly perMinute: number;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perMinute: number) {
    this.perMinute = perMinute;
  }

  /** Takes one request. Returns 0 when allowed, else the milliseconds until one is. */
  take(key: string, now = Date.now()): number {
    const rate = this.perMinute / 60_000;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size > 10_000) this.buckets.clear();
      b = { tokens: this.perMinute, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * rate);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / rate);
  }
}

/** True for an address that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === "127.0.0.1" || host === "::1" || host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Without tokens, a page on any website could reach a loopback server through a DNS name that
 * resolves to 127.0.0.1 (DNS rebinding): such requests carry that name in `Host`. Only
 * loopback names are accepted then.
 */
export function loopbackHostHeader(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
  return isLoopback(name);
}
