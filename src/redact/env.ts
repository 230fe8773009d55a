/**
 * Which environment variables hold secrets: by name (`*_KEY`, `*_TOKEN`, `*_SECRET`,
 * `*_PASSWORD`, `*_PAT`, DSNs, database URLs, webhooks...) and by value (a URL carrying a
 * password, a known token format, a long random-looking string), whatever the name.
 */

/** A value the redactor masks, with the name it is masked as. */
export interface SecretValue {
  /** Shown in the mask: `[REDACTED:<name>]`. */
  readonly name: string;
  readonly value: string;
}

/** Values shorter than this are never masked as literals: masking `admin` everywhere would ruin outputs. */
export const MIN_SECRET_LENGTH = 8;

// Whole-word parts of a name (split on _ and -), upper-cased.
const SECRET_WORDS = new Set([
  "KEY",
  "APIKEY",
  "TOKEN",
  "SECRET",
  "SECRETS",
  "PASSWORD",
  "PASSWD",
  "PASS",
  "PASSPHRASE",
  "PAT",
  "CREDENTIAL",
  "CREDENTIALS",
  "CREDS",
  "DSN",
  "WEBHOOK",
  "COOKIE",
  "AUTH",
  "BEARER",
  "SIGNATURE",
  "SALT",
]);

// Names that match a secret word but hold nothing secret.
const NOT_SECRET = new Set([
  "PWD",
  "OLDPWD",
  "SSH_AUTH_SOCK",
  "GPG_AGENT_INFO",
  "KEYTIMEOUT",
  "XAUTHORITY",
  "KRB5CCNAME",
  "TOKENIZERS_PARALLELISM",
]);

/** Suffixes of names that are secret when the value is a connection string. */
const URL_WORDS = new Set(["URL", "URI", "DSN", "CONNECTION", "CONN", "STRING"]);
const DATABASE_WORDS = new Set([
  "DATABASE",
  "DB",
  "POSTGRES",
  "POSTGRESQL",
  "PG",
  "MYSQL",
  "MARIADB",
  "MONGO",
  "MONGODB",
  "REDIS",
  "AMQP",
  "RABBITMQ",
  "NATS",
  "KAFKA",
  "SENTRY",
  "ELASTICSEARCH",
  "CLICKHOUSE",
]);

/**
 * True when a variable's name says it holds a secret: a word such as KEY, TOKEN, SECRET,
 * PASSWORD, PAT, CREDENTIALS, DSN, WEBHOOK or COOKIE among its `_`-separated parts
 * (`OPENAI_API_KEY`, `GH_PAT`, `SLACK_WEBHOOK_URL`, `SENTRY_DSN`), or a database / broker
 * connection string (`DATABASE_URL`, `REDIS_URL`, `MONGO_URI`, `PG_CONNECTION_STRING`).
 * `PWD`, `SSH_AUTH_SOCK` and a few other well-known names are not secrets.
 */
export function isSecretName(name: string): boolean {
  const upper = name.toUpperCase();
  if (NOT_SECRET.has(upper)) return false;
  // camelCase counts as separate words too (npm_config__authToken).
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toUpperCase()
    .split(/[_\-.]+/)
    .filter((w) => w !== "");
  if (words.length === 0) return false;
  if (words.some((w) => SECRET_WORDS.has(w))) return true;
  if (upper.endsWith("APIKEY") || upper.endsWith("ACCESSKEY") || upper.endsWith("SECRETKEY")) return true;
  return words.some((w) => DATABASE_WORDS.has(w)) && words.some((w) => URL_WORDS.has(w));
}

const URL_WITH_PASSWORD = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^\s:@/]+):([^\s@/]+)@/;

/**
 * True when a value looks like a credential whatever its name: a URL with a password, or a
 * long token without spaces or path separators that mixes upper case, lower case and digits
 * with high entropy (hex digests, UUIDs, paths and words do not qualify).
 */
export function looksLikeCredential(value: string): boolean {
  if (URL_WITH_PASSWORD.test(value)) return true;
  if (value.length < 24 || value.length > 512) return false;
  if (!/^[A-Za-z0-9+/=_.~-]+$/.test(value)) return false;
  if (!/[a-z]/.test(value) || !/[A-Z]/.test(value) || !/[0-9]/.test(value)) return false;
  return entropy(value) >= 4;
}

/** Shannon entropy in bits per character. */
function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * The secret values of an environment: every variable whose name (`isSecretName`) or value
 * (`looksLikeCredential`) says so, with values shorter than `MIN_SECRET_LENGTH` left out.
 * A URL's password is added on its own too (it often appears without the URL around it).
 */
export function secretsFromEnv(env: Readonly<Record<string, string | undefined>>): SecretValue[] {
  const out: SecretValue[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    const value = raw.trim();
    if (value.length < MIN_SECRET_LENGTH) continue;
    if (!isSecretName(name) && !looksLikeCredential(value)) continue;
    out.push({ name, value });
    const password = URL_WITH_PASSWORD.exec(value)?.[2];
    if (password !== undefined) {
      let decoded = password;
      try {
        decoded = decodeURIComponent(password);
      } catch {
        // keep the encoded form only
      }
      for (const p of new Set([password, decoded]))
        if (p.length >= MIN_SECRET_LENGTH) out.push({ name: `${name} password`, value: p });
    }
  }
  return out;
}
