import { pathsIn } from "./glob.ts";
import { type Ctx, parsed } from "./programs.ts";
import type { Opaque } from "./types.ts";
import type { Field } from "./words.ts";

/**
 * More programs that run code the line does not show (ADR 2002): a program file read from
 * the command's input or written earlier in the line (`awk -f -`, `make -f /dev/stdin`), a
 * package installed from a URL or a git repository (its install scripts run), package-manager
 * settings that name a program, and terminal multiplexers given a command.
 */

/** A program or build file that is the command's input, a pipe, or a file the line wrote. */
const INPUT_FILE = /^(-|\/dev\/stdin|\/dev\/fd\/\d+|\/proc\/self\/fd\/\d+)$/;

/**
 * Opaque when an option in `flags` (`-f`, `--file`...) names a program file the analysis
 * cannot read: the command's input, a pipe, an unknown name, or a file written in the line.
 */
export function programFile(ctx: Ctx, args: readonly Field[], flags: readonly string[]): Opaque | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as Field;
    const t = a.text;
    let file: Field | undefined;
    if (flags.includes(t)) file = args[i + 1];
    else {
      const eq = t.indexOf("=");
      if (eq > 0 && t.startsWith("--") && flags.includes(t.slice(0, eq)))
        file = { ...a, text: t.slice(eq + 1) };
      else {
        // Glued short form: `-f-`, `-f/dev/stdin`.
        const short = flags.find((f) => f.length === 2 && t.startsWith(f) && t.length > 2);
        if (short) file = { ...a, text: t.slice(2) };
      }
    }
    if (!file) continue;
    const name = ctx.cmd.name;
    if (!file.known) return { reason: `${name} reads its program from a file only known at run time` };
    if (INPUT_FILE.test(file.text)) return { reason: `${name} reads its program from its input or a pipe` };
    for (const path of pathsIn(file.text, ctx.cmd.dirs))
      if (ctx.env.written(path) !== undefined)
        return { reason: `${name} reads its program from ${file.text}, which the line wrote` };
  }
  return undefined;
}

/** Where a package spec comes from when it is not a registry name. */
function remoteSpec(t: string): boolean {
  return /^(https?|ftp|git|ssh|file):\/\/|^git\+|^(github|gitlab|bitbucket|gist):|^git@|\.(tgz|tar\.gz|whl|zip)$/i.test(
    t,
  );
}

/**
 * Package managers installing from a URL, a repository or an index the line names: the
 * package's install code (npm lifecycle scripts, setup.py) runs at once.
 */
export function packageSource(ctx: Ctx, args: readonly Field[]): Opaque | undefined {
  const name = ctx.cmd.name;
  const texts = args.map((a) => a.text);
  const why = (what: string) => ({
    reason: `${name} installs a package from ${what}, which runs its install code`,
  });
  if (/^(npm|pnpm|yarn|bun|npx|bunx)$/.test(name)) {
    const config = texts.findIndex((t) => t === "config" || t === "set" || t === "c");
    if (config >= 0) {
      const key = texts.find((t, i) => i > config && !t.startsWith("-") && t !== "set");
      if (
        key &&
        /^(script-shell|shell|node-options|git|editor|browser|viewer|prefix|globalconfig|userconfig|registry)(=|$)/.test(
          key,
        )
      )
        return { reason: `${name} config ${key.split("=")[0]} changes what ${name} runs later` };
      return undefined;
    }
    // Any word, not only the first: options with values come before the subcommand too
    // (`npm --prefix dir install URL`).
    const installs = texts.some((t) => /^(install|i|add|ci|update|up|exec|x|dlx|create|init)$/.test(t));
    const spec = texts.find((t) => remoteSpec(t) || (/^--package=/.test(t) && remoteSpec(t.slice(10))));
    if ((installs || name === "npx" || name === "bunx") && spec) return why(spec.replace(/^--package=/, ""));
    const registry = texts.find((t) => /^--registry(=|$)/.test(t));
    if (installs && registry) return why("a registry named on the command line");
    return undefined;
  }
  // pip, pip3, uv pip, pipx, python -m pip (reached as pip through the module form below).
  if (/^(pip[0-9.]*|pipx|uv|poetry|pdm)$/.test(name)) {
    const installs = texts.some((t) => /^(install|add|run|inject|sync)$/.test(t));
    if (!installs) return undefined;
    const spec = texts.find((t) => remoteSpec(t) || (/^--spec=/.test(t) && remoteSpec(t.slice(7))));
    if (spec) return why(spec);
    const index = texts.find((t) => /^(-i|--index-url|--extra-index-url|-f|--find-links)(=|$)/.test(t));
    if (index) return why("an index named on the command line");
  }
  return undefined;
}

/** Options of tmux commands that take a value (the rest are flags). */
const TMUX_VALUED = /^-[cefFlnstxyLSTp]$/;
const TMUX_RUNS =
  /^(new|new-session|new-window|neww|split-window|splitw|run-shell|run|respawn-pane|respawnp|respawn-window|respawnw|display-popup|popup|pipe-pane|pipep|if-shell|if)$/;

/**
 * `tmux new -d 'cmd'`, `tmux run-shell 'cmd'`, `screen -dm cmd args`: the command runs in
 * the multiplexer, outliving this one; it is analysed as a script, and opaque when unknown.
 */
export function multiplexer(ctx: Ctx, args: readonly Field[]): Opaque | undefined {
  const name = ctx.cmd.name;
  let i = 0;
  if (name === "tmux") {
    while (i < args.length && (args[i] as Field).text.startsWith("-"))
      i += /^-[LSf]$/.test((args[i] as Field).text) ? 2 : 1;
    const sub = args[i]?.text ?? "";
    if (!TMUX_RUNS.test(sub)) return sendKeys(name, sub);
    i++;
    while (i < args.length && (args[i] as Field).text.startsWith("-"))
      i += TMUX_VALUED.test((args[i] as Field).text) ? 2 : 1;
  } else {
    if (args.some((a) => a.text === "-X" || a.text.startsWith("-X")))
      return { reason: `${name} -X sends commands to a running session` };
    // screen: options up to the command; -S, -c, -e, -h, -p, -s, -t, -T take a value.
    while (i < args.length && (args[i] as Field).text.startsWith("-"))
      i += /^-[ScehpstT]$/.test((args[i] as Field).text) ? 2 : 1;
  }
  const rest = args.slice(i);
  if (rest.length === 0) return undefined;
  if (!rest.every((a) => a.known)) return { reason: `${name} runs a command only known at run time` };
  // tmux hands its command words to a shell; screen runs them as argv (quoted back here).
  const text = name === "tmux" ? rest.map((a) => a.text).join(" ") : rest.map((a) => quote(a.text)).join(" ");
  return parsed(ctx.env.nested(text, ctx.base.origin, false), name);
}

/** `tmux send-keys` types into a shell: whatever it types runs. */
function sendKeys(name: string, sub: string): Opaque | undefined {
  return /^(send-keys|send)$/.test(sub)
    ? { reason: `${name} ${sub} types commands into a shell` }
    : undefined;
}

function quote(word: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
