import { describe, expect, it } from "vitest";
import type { EventMsg, ResponseItem } from "../protocol/index.ts";
import { isSecretName, looksLikeCredential, secretsFromEnv } from "./env.ts";
import { createRedactor, NO_REDACTION } from "./redactor.ts";
import { redactEventMsg, redactItem } from "./walk.ts";

// Fake credentials are assembled at run time so that no scanner mistakes this file for a leak.
const rep = (ch: string, n: number) => ch.repeat(n);
const mixed = (n: number) => Array.from({ length: n }, (_, i) => "aB3xZ9qW7mK2pL5nR8tY4vC6"[i % 24]).join("");

const SAMPLES: Record<string, string> = {
  anthropic_key: `sk-ant-api03-${mixed(90)}`,
  openai_key: `sk-proj-${mixed(60)}`,
  google_api_key: `AIza${mixed(35)}`,
  github_token: `ghp_${mixed(36)}`,
  gitlab_token: `glpat-${mixed(20)}`,
  slack_token: `xoxb-1234567890-${mixed(24)}`,
  aws_access_key_id: `AKIA${rep("Q", 12)}7XYZ`,
  stripe_key: `sk_live_${mixed(24)}`,
  npm_token: `npm_${mixed(36)}`,
  huggingface_token: `hf_${mixed(34)}`,
  jwt: `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.${mixed(43)}`,
};

describe("redactor: token formats", () => {
  const r = createRedactor({ env: false });

  for (const [id, token] of Object.entries(SAMPLES)) {
    it(`masks ${id} anywhere in a text`, () => {
      expect(r.redact(`before ${token} after`)).toBe(`before [REDACTED:${id}] after`);
      expect(r.redact(`"${token}"`)).toBe(`"[REDACTED:${id}]"`);
    });
  }

  it("masks a fine-grained GitHub PAT and a Slack webhook URL", () => {
    expect(r.redact(`github_pat_${mixed(82)}`)).toBe("[REDACTED:github_token]");
    const hook = `https://hooks.slack.com/services/T0${mixed(8)}/B0${mixed(8)}/${mixed(24)}`;
    expect(r.redact(`curl -X POST ${hook} -d x`)).toBe("curl -X POST [REDACTED:webhook_url] -d x");
  });

  it("masks private key blocks, also when the output was cut before the end", () => {
    const block = `-----BEGIN OPENSSH PRIVATE KEY-----\n${mixed(64)}\n${mixed(64)}\n-----END OPENSSH PRIVATE KEY-----`;
    expect(r.redact(`key:\n${block}\nnext`)).toBe("key:\n[REDACTED:private_key]\nnext");
    expect(r.redact(`-----BEGIN RSA PRIVATE KEY-----\n${mixed(64)}\n[... 900 characters omitted`)).toBe(
      "[REDACTED:private_key]",
    );
    // A public key is not a secret.
    const pub = `-----BEGIN PUBLIC KEY-----\n${mixed(64)}\n-----END PUBLIC KEY-----`;
    expect(r.redact(pub)).toBe(pub);
  });

  it("keeps a URL's scheme, user and host and masks its password", () => {
    expect(r.redact("remote: https://deploy:hunter2hunter2@git.example.com/x.git")).toBe(
      "remote: https://deploy:[REDACTED:url_password]@git.example.com/x.git",
    );
    expect(r.redact("see https://example.com/a:b and git@github.com:org/repo.git")).toBe(
      "see https://example.com/a:b and git@github.com:org/repo.git",
    );
  });

  it("masks the credential of Authorization headers and AWS secret keys written after their name", () => {
    expect(r.redact(`> Authorization: Bearer ${mixed(40)}`)).toBe(
      "> Authorization: Bearer [REDACTED:authorization_header]",
    );
    expect(r.redact(`aws_secret_access_key = ${mixed(40)}`)).toBe(
      "aws_secret_access_key = [REDACTED:aws_secret_access_key]",
    );
  });

  it("leaves look-alikes alone: hyphenated names, hashes, UUIDs, ordinary code", () => {
    for (const text of [
      "pip install sk-learn-preprocessing-pipeline-component",
      "commit 3f786850e387550fdab836ed7e6dc881de23001b",
      "id 123e4567-e89b-12d3-a456-426614174000",
      "const task_test_runner = new Runner({ url: 'http://localhost:8080/api' });",
      "AKIA is a prefix; ghp_short; eyJ alone",
    ]) {
      expect(r.redact(text)).toBe(text);
    }
  });

  it("returns the very same string when nothing matched, and a copy-free value", () => {
    const text = `plain output ${"x".repeat(5000)}`;
    expect(r.redact(text)).toBe(text);
    const value = { a: ["x", { b: "plain text here" }], n: 3 };
    expect(r.redactValue(value)).toBe(value);
  });

  it("redactValue copies only the path to a change, keys included", () => {
    const inner = { keep: "plain" };
    const value = { a: inner, b: [`token ${SAMPLES.github_token}`], [SAMPLES.npm_token as string]: 1 };
    const out = r.redactValue(value);
    expect(out).not.toBe(value);
    expect(out.a).toBe(inner);
    expect(out.b).toEqual(["token [REDACTED:github_token]"]);
    expect(Object.keys(out)).toEqual(["a", "b", "[REDACTED:npm_token]"]);
    expect(value.b[0]).toContain("ghp_"); // the input is not mutated
  });

  it("NO_REDACTION masks nothing", () => {
    const t = `x ${SAMPLES.github_token}`;
    expect(NO_REDACTION.redact(t)).toBe(t);
  });
});

describe("redactor: environment values", () => {
  const env = {
    OPENAI_API_KEY: "opaque-value-1234",
    GH_PAT: "my-personal-token-xyz",
    DATABASE_URL: "postgres://app:p%40ss-w0rd-long@db.internal:5432/app",
    SLACK_WEBHOOK_URL: "https://example.invalid/hook/abcdef123456",
    SENTRY_DSN: "https://abcdef0123456789@o1.ingest.example/1",
    SHORT_TOKEN: "abc123",
    SOME_VALUE: `Zq8${mixed(30)}`,
    HOME: "/home/someone",
    PWD: "/home/someone/project-x",
    PATH: "/usr/local/bin:/usr/bin:/bin",
    GIT_COMMIT: "3f786850e387550fdab836ed7e6dc881de23001b",
  };
  const r = createRedactor({ env, patterns: false });

  it("knows secret-looking names", () => {
    for (const name of [
      "OPENAI_API_KEY",
      "ANTHROPIC_API_KEY",
      "GH_PAT",
      "GITHUB_TOKEN",
      "AWS_SECRET_ACCESS_KEY",
      "DB_PASSWORD",
      "DATABASE_URL",
      "REDIS_URL",
      "MONGO_URI",
      "SENTRY_DSN",
      "SLACK_WEBHOOK_URL",
      "npm_config__authToken",
      "STRIPE_APIKEY",
      "PG_CONNECTION_STRING",
    ])
      expect(isSecretName(name), name).toBe(true);
    for (const name of ["HOME", "PWD", "OLDPWD", "PATH", "SSH_AUTH_SOCK", "LANG", "DB_HOST", "KEYBOARD"])
      expect(isSecretName(name), name).toBe(false);
  });

  it("knows credential-looking values whatever the name", () => {
    expect(looksLikeCredential("https://u:pw@host/x")).toBe(true);
    expect(looksLikeCredential(`Zq8${mixed(30)}`)).toBe(true);
    expect(looksLikeCredential("3f786850e387550fdab836ed7e6dc881de23001b")).toBe(false);
    expect(looksLikeCredential("/usr/local/bin:/usr/bin")).toBe(false);
    expect(looksLikeCredential("Hello World This Is Text 123")).toBe(false);
  });

  it("collects secret values, never short ones, and a URL's password on its own", () => {
    const names = secretsFromEnv(env).map((s) => s.name);
    expect(names).toEqual([
      "OPENAI_API_KEY",
      "GH_PAT",
      "DATABASE_URL",
      "DATABASE_URL password",
      "DATABASE_URL password",
      "SLACK_WEBHOOK_URL",
      "SENTRY_DSN",
      "SOME_VALUE",
    ]);
  });

  it("masks each value as its variable, in every written form", () => {
    expect(r.redact("key=opaque-value-1234;")).toBe("key=[REDACTED:OPENAI_API_KEY];");
    expect(r.redact("echo $GH_PAT -> my-personal-token-xyz")).toBe("echo $GH_PAT -> [REDACTED:GH_PAT]");
    expect(r.redact("url=postgres://app:p%40ss-w0rd-long@db.internal:5432/app")).toBe(
      "url=[REDACTED:DATABASE_URL]",
    );
    expect(r.redact("password: p@ss-w0rd-long")).toBe("password: [REDACTED:DATABASE_URL password]");
    expect(r.redact(encodeURIComponent(env.SLACK_WEBHOOK_URL))).toBe("[REDACTED:SLACK_WEBHOOK_URL]");
    expect(r.redact(`dsn ${env.SENTRY_DSN}`)).toBe("dsn [REDACTED:SENTRY_DSN]");
    expect(r.redact(`v=${env.SOME_VALUE}`)).toBe("v=[REDACTED:SOME_VALUE]");
    const text = "HOME=/home/someone abc123 /home/someone/project-x 3f786850e387550fdab836ed7e6dc881de23001b";
    expect(r.redact(text)).toBe(text);
  });

  it("masks JSON-escaped values inside JSON text and keeps it valid JSON", () => {
    const q = createRedactor({ env: { API_SECRET: 'quo"te\\back-slash-value' }, patterns: false });
    const json = JSON.stringify({ out: 'the secret is quo"te\\back-slash-value!' });
    const masked = q.redact(json);
    expect(JSON.parse(masked)).toEqual({ out: "the secret is [REDACTED:API_SECRET]!" });
  });

  it("takes extra values, named or bare", () => {
    const q = createRedactor({
      env: false,
      patterns: false,
      values: ["bare-secret-1", { name: "X", value: "named-secret-2" }],
    });
    expect(q.redact("bare-secret-1 named-secret-2 short")).toBe("[REDACTED:secret] [REDACTED:X] short");
    expect(q.names).toEqual(["secret", "X"]);
  });
});

describe("redactor: protocol values", () => {
  const r = createRedactor({ env: { MY_TOKEN: "tok-1234567890-abc" }, patterns: true });

  it("redacts history items but never provider data or inline image bytes", () => {
    const data = `iVBOR${"A".repeat(20)}tok-1234567890-abc${"A".repeat(20)}`;
    const item: ResponseItem = {
      type: "function_call_output",
      callId: "c1",
      output: [
        { type: "text", text: "value tok-1234567890-abc" },
        { type: "image", mediaType: "image/png", data },
      ],
      providerData: { openai: { encrypted: "tok-1234567890-abc" } },
    };
    const out = redactItem(r, item) as Extract<ResponseItem, { type: "function_call_output" }>;
    expect(out.output).toEqual([
      { type: "text", text: "value [REDACTED:MY_TOKEN]" },
      { type: "image", mediaType: "image/png", data },
    ]);
    expect(out.providerData).toBe(item.providerData);
    const args: ResponseItem = {
      type: "function_call",
      callId: "c",
      name: "bash",
      arguments: '{"command":"echo tok-1234567890-abc"}',
    };
    expect(JSON.parse((redactItem(r, args) as { arguments: string }).arguments)).toEqual({
      command: "echo [REDACTED:MY_TOKEN]",
    });
  });

  it("redacts events that carry outside text and skips those that cannot", () => {
    const msg: EventMsg = {
      type: "tool_call_started",
      callId: "c",
      name: "bash",
      input: { command: "x tok-1234567890-abc" },
    };
    expect(redactEventMsg(r, msg)).toEqual({ ...msg, input: { command: "x [REDACTED:MY_TOKEN]" } });
    const started: EventMsg = { type: "turn_started", model: "tok-1234567890-abc" };
    expect(redactEventMsg(r, started)).toBe(started);
  });
});
