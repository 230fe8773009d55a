/** Text helpers shared by the file tools. */

const IMAGE_SIGNATURES: { readonly mediaType: string; readonly test: (b: Uint8Array) => boolean }[] = [
  { mediaType: "image/png", test: (b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 },
  { mediaType: "image/jpeg", test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { mediaType: "image/gif", test: (b) => b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38 },
  {
    mediaType: "image/webp",
    test: (b) =>
      b[0] === 0x52 &&
      b[1] === 0x49 &&
      b[2] === 0x46 &&
      b[3] === 0x46 &&
      b[8] === 0x57 &&
      b[9] === 0x45 &&
      b[10] === 0x42 &&
      b[11] === 0x50,
  },
];

/** The media type of an image by its magic bytes (PNG, JPEG, GIF, WebP), else undefined. */
export function imageType(bytes: Uint8Array): string | undefined {
  return IMAGE_SIGNATURES.find((s) => s.test(bytes))?.mediaType;
}

/**
 * True when the content looks binary: a NUL byte in the first 8 KiB, or more than 10% of
 * control bytes other than whitespace, or invalid UTF-8.
 */
export function isBinary(bytes: Uint8Array): boolean {
  const sample = bytes.subarray(0, 8192);
  let controls = 0;
  for (const b of sample) {
    if (b === 0) return true;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x1b) controls++;
  }
  if (sample.length > 0 && controls / sample.length > 0.1) return true;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(
      sample.length < bytes.length ? trimPartial(sample) : sample,
    );
    return false;
  } catch {
    return true;
  }
}

/** Drops a trailing incomplete UTF-8 sequence (a sample may cut one in half). */
function trimPartial(bytes: Uint8Array): Uint8Array {
  const end = bytes.length;
  for (let i = 1; i <= 3 && end - i >= 0; i++) {
    const b = bytes[end - i] as number;
    if ((b & 0xc0) === 0xc0) return bytes.subarray(0, end - i);
    if ((b & 0xc0) !== 0x80) break;
  }
  return bytes;
}

/** Decodes UTF-8 text (a BOM is dropped). */
export function decodeText(bytes: Uint8Array): string {
  return new TextDecoder("utf-8").decode(bytes);
}

/** Encodes UTF-8 text. */
export function encodeText(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Splits text into lines without their terminators (a final newline adds no empty line). */
export function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/**
 * Formats lines with right-aligned 1-based numbers and a tab, like `cat -n`, cutting lines
 * longer than `maxLineChars`.
 */
export function numberLines(lines: readonly string[], firstLine: number, maxLineChars: number): string {
  const width = String(firstLine + lines.length - 1).length;
  return lines
    .map((line, i) => {
      const shown =
        line.length > maxLineChars
          ? `${line.slice(0, maxLineChars)}… [line cut at ${maxLineChars} of ${line.length} characters]`
          : line;
      return `${String(firstLine + i).padStart(width, " ")}\t${shown}`;
    })
    .join("\n");
}

/** Human-readable byte count. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
