import { readFile } from "node:fs/promises";
import { TaifengError, type TaifengErrorCode } from "./errors.ts";

/**
 * Reads and parses a JSON file for a loader that reports problems as TaifengError `code`,
 * naming the file: "cannot read <label> <path>: ..." or "<label> <path> is not valid JSON: ...".
 * With `optional`, a missing file (ENOENT, ENOTDIR) resolves to undefined instead.
 */
export async function readJsonFile(
  path: string,
  options: { readonly code: TaifengErrorCode; readonly label: string; readonly optional?: boolean },
): Promise<{ value: unknown } | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    if (options.optional && (errno === "ENOENT" || errno === "ENOTDIR")) return undefined;
    throw new TaifengError(options.code, `cannot read ${options.label} ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    throw new TaifengError(
      options.code,
      `${options.label} ${path} is not valid JSON: ${(err as Error).message}`,
    );
  }
}
