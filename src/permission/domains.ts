import { domainToASCII } from "node:url";

/**
 * Domain specifiers of `WebFetch(domain:...)` (alias `Network(...)`). `domain:example.com`
 * matches that host only; `domain:*.example.com` matches its subdomains (not the apex);
 * `domain:*` matches every host. Hosts compare case-insensitively and without a trailing dot.
 */
export interface DomainPattern {
  readonly source: string;
  test(host: string): boolean;
}

/**
 * Lower-cases a host, drops a trailing dot and converts international names to punycode
 * (`Bücher.DE.` → `xn--bcher-kva.de`), the form URLs carry.
 */
export function normalizeHost(host: string): string {
  let lower = host.trim().toLowerCase();
  if (lower.endsWith(".")) lower = lower.slice(0, -1);
  if (/^[ -~]*$/.test(lower)) return lower;
  return domainToASCII(lower) || lower;
}

/** Compiles `domain:HOST`. Returns an error message for other forms. */
export function compileDomainPattern(specifier: string): DomainPattern | { error: string } {
  const spec = specifier.trim();
  if (!spec.startsWith("domain:")) {
    return { error: `expected domain:HOST (e.g. domain:example.com), got "${spec}"` };
  }
  const host = normalizeHost(spec.slice("domain:".length));
  if (host === "") return { error: "the domain is empty" };
  if (host === "*") return { source: specifier, test: () => true };
  if (host.startsWith("*.")) {
    const suffix = `.${normalizeHost(host.slice(2))}`;
    if (suffix.includes("*")) return { error: `only a leading "*." wildcard is supported, got "${host}"` };
    return { source: specifier, test: (h) => normalizeHost(h).endsWith(suffix) };
  }
  if (host.includes("*")) return { error: `only a leading "*." wildcard is supported, got "${host}"` };
  return { source: specifier, test: (h) => normalizeHost(h) === host };
}

/**
 * The host of a URL, normalized; undefined when the text is not an absolute http(s) URL
 * (such a request can match no allow rule). Internationalized names come back in punycode.
 */
export function hostOf(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return undefined;
  const host = parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname;
  return host === "" ? undefined : normalizeHost(host);
}
