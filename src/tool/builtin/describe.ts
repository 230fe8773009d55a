import { readFileSync } from "node:fs";

const cache = new Map<string, string>();

/**
 * Loads the `description.md` next to a tool's module (the text the model reads), trimmed.
 * Pass the tool module's `import.meta.url`. Cached per file.
 */
export function loadDescription(moduleUrl: string): string {
  const url = new URL("./description.md", moduleUrl);
  let text = cache.get(url.href);
  if (text === undefined) {
    text = readFileSync(url, "utf8").trim();
    cache.set(url.href, text);
  }
  return text;
}
