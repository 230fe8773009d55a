/**
 * Well-known credential formats the redactor recognizes wherever they appear, whatever
 * variable (if any) they came from. Each pattern is a regular-expression source without
 * flags; the redactor joins them into one alternation (named groups must not be used here).
 *
 * Choices that keep false positives rare in ordinary tool output (code, logs, diffs):
 * prefixes are vendor-specific, bodies have the vendor's length, and generic prefixes
 * (`sk-`) require a digit in the body so hyphenated identifiers (`sk-learn-...`) pass.
 */

/** One credential format. */
export interface SecretPattern {
  /** Stable id, used in the mask: `[REDACTED:<id>]`. snake_case. */
  readonly id: string;
  /** What it recognizes, for documentation. */
  readonly description: string;
  /** Regular-expression source (no flags, no named groups; plain groups are fine). */
  readonly source: string;
  /**
   * Only this capture group (1-based, counted inside `source`) is masked; the rest of the match
   * is kept (e.g. a URL's scheme, user and host around its password). Default: the whole match.
   */
  readonly group?: number;
}

const B = "(?<![A-Za-z0-9_-])"; // a token starts here (a word boundary that treats - and _ as word chars)
const E = "(?![A-Za-z0-9_-])"; // and ends here

/** The built-in formats, most specific first (the first alternative that matches wins). */
export const SECRET_PATTERNS: readonly SecretPattern[] = [
  {
    id: "private_key",
    description: "PEM private key blocks (RSA, EC, DSA, OPENSSH, PGP, encrypted), also when cut off",
    source:
      "-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----[\\s\\S]*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|$)",
  },
  {
    id: "anthropic_key",
    description: "Anthropic API and admin keys (sk-ant-...)",
    source: `${B}sk-ant-[A-Za-z0-9_-]{20,}${E}`,
  },
  {
    id: "openai_key",
    description:
      "OpenAI keys (sk-..., sk-proj-..., sk-svcacct-..., sk-admin-...) and sk- keys of compatible providers",
    source: `${B}sk-(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{32,}${E}`,
  },
  {
    id: "google_api_key",
    description: "Google / Gemini API keys (AIza...)",
    source: `${B}AIza[0-9A-Za-z_-]{35}${E}`,
  },
  {
    id: "github_token",
    description:
      "GitHub tokens: classic PATs, OAuth, user-to-server, server-to-server, refresh (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained PATs (github_pat_)",
    source: `${B}(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})${E}`,
  },
  {
    id: "gitlab_token",
    description: "GitLab tokens (glpat-, gldt-, glrt-, glptt-, glcbt-, glft-, glsoat-, gloas-, glimt-)",
    source: `${B}gl(?:pat|dt|rt|ptt|cbt|ft|soat|oas|imt)-[A-Za-z0-9_-]{20,}${E}`,
  },
  {
    id: "slack_token",
    description:
      "Slack bot, user, app and configuration tokens (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxe-, xapp-)",
    source: `${B}(?:xox[abeoprs](?:\\.[A-Za-z0-9-]+)?-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,})${E}`,
  },
  {
    id: "webhook_url",
    description: "Slack, Discord and Microsoft Teams incoming-webhook URLs (the path is the credential)",
    source:
      "https://(?:hooks\\.slack\\.com/(?:services|workflows|triggers)|(?:ptb\\.|canary\\.)?discord(?:app)?\\.com/api/webhooks|[A-Za-z0-9-]+\\.webhook\\.office\\.com/webhookb2)/[A-Za-z0-9/@_-]{8,}",
  },
  {
    id: "aws_access_key_id",
    description: "AWS access key ids (AKIA, ASIA, ABIA, ACCA + 16)",
    source: `${B}(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}${E}`,
  },
  {
    id: "aws_secret_access_key",
    description:
      "AWS secret access keys written after their name (aws_secret_access_key = ..., AWS_SECRET_ACCESS_KEY: ...)",
    source:
      "(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|SecretAccessKey)[\"']?\\s*[:=]\\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
    group: 1,
  },
  {
    id: "stripe_key",
    description: "Stripe secret and restricted keys (sk_live_, sk_test_, rk_live_, rk_test_)",
    source: `${B}[sr]k_(?:live|test)_[A-Za-z0-9]{20,}${E}`,
  },
  {
    id: "npm_token",
    description: "npm access tokens (npm_...)",
    source: `${B}npm_[A-Za-z0-9]{36}${E}`,
  },
  {
    id: "huggingface_token",
    description: "Hugging Face tokens (hf_...)",
    source: `${B}hf_[A-Za-z0-9]{34,}${E}`,
  },
  {
    id: "jwt",
    description: "JSON Web Tokens (eyJ....eyJ....signature)",
    source: `${B}eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]*${E}`,
  },
  {
    id: "url_password",
    description:
      "the password of a URL with credentials (scheme://user:password@host); scheme, user and host are kept",
    source: "://[^\\s:@/\"'<>]{1,256}:([^\\s@/\"'<>]{1,256})@",
    group: 1,
  },
  {
    id: "authorization_header",
    description: "the credential of an HTTP Authorization header (Bearer, Basic, Token)",
    source:
      "[Aa]uthorization[\"']?\\s*[:=]\\s*[\"']?(?:Bearer|Basic|Token|bearer|basic|token) +([A-Za-z0-9._~+/=-]{12,})",
    group: 1,
  },
];
