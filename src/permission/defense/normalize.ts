/**
 * Text clean-up before a command is parsed for defense: what a terminal would hide or
 * fold must not hide a command from the classifier.
 */

// CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), and two-character escapes.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL and other C0 controls are dropped
const CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;
const ZERO_WIDTH = /[\u200b-\u200d\u2060\ufeff\u00ad]/g;
const ODD_SPACES = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g;

/**
 * Normalizes a command for analysis: strips ANSI escape sequences, NUL and other control
 * bytes, zero-width characters; folds compatibility forms (fullwidth letters, odd spaces)
 * with NFKC; turns carriage returns into newlines (a `\r` can hide a command from a
 * human reading a terminal); joins backslash-newline continuations; replaces `$IFS`
 * tricks with a space. The result is for classification only, never for execution.
 */
export function normalizeCommand(raw: string): string {
  return raw
    .replace(ANSI, "")
    .replace(ZERO_WIDTH, "")
    .normalize("NFKC")
    .replace(/\r\n?/g, "\n")
    .replace(CONTROLS, "")
    .replace(ODD_SPACES, " ")
    .replace(/\\\n/g, "")
    .replace(/\$\{IFS(?:[%#][^}]*)?\}|\$IFS\b/g, " ")
    .replace(/\t/g, " ")
    .trim();
}
