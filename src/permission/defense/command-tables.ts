/**
 * Tables of command families the defense analysis needs: shells, interpreters and how they
 * take inline code, shell keywords, and wrappers with the options that take a value.
 */

/** Shells that run a script from `-c`, a file or stdin. */
export const SHELLS = new Set([
  "sh",
  "bash",
  "zsh",
  "dash",
  "ksh",
  "mksh",
  "fish",
  "ash",
  "csh",
  "tcsh",
  "busybox",
]);
/** Interpreters that run code from an argument, a file or stdin. */
export const INTERPRETERS =
  /^(python[0-9.]*|pypy[0-9.]*|perl[0-9.]*|ruby[0-9.]*|node|nodejs|deno|bun|php[0-9.]*|lua[0-9.]*|rscript|osascript|tclsh|wish|pwsh|powershell)$/;
export const INLINE_CODE_FLAGS: Record<string, readonly string[]> = {
  python: ["-c"],
  pypy: ["-c"],
  perl: ["-e", "-E"],
  ruby: ["-e"],
  node: ["-e", "--eval", "-p", "--print"],
  nodejs: ["-e", "--eval", "-p", "--print"],
  deno: ["eval"],
  bun: ["-e", "--eval"],
  php: ["-r"],
  lua: ["-e"],
  osascript: ["-e"],
  pwsh: ["-c", "-command", "-Command"],
  powershell: ["-c", "-command", "-Command"],
};

export const KEYWORDS = new Set([
  "if",
  "then",
  "else",
  "elif",
  "do",
  "while",
  "until",
  "!",
  "{",
  "}",
  "time",
  "fi",
  "done",
  "esac",
]);

/** Options that take a value, per wrapper; other `-x` words are flags. */
export const WRAPPERS: Record<string, { valued: readonly string[]; leadingArgs?: number }> = {
  sudo: { valued: ["-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-T", "-U", "--user", "--group"] },
  doas: { valued: ["-u", "-C"] },
  pkexec: { valued: ["--user"] },
  runuser: { valued: ["-u", "-g", "-G", "--user", "--group"] },
  env: { valued: ["-u", "-C", "--unset", "--chdir"] },
  nice: { valued: ["-n", "--adjustment"] },
  nohup: { valued: [] },
  timeout: { valued: ["-s", "-k", "--signal", "--kill-after"], leadingArgs: 1 },
  time: { valued: ["-f", "-o", "--format", "--output"] },
  command: { valued: [] },
  builtin: { valued: [] },
  exec: { valued: ["-a"] },
  stdbuf: { valued: ["-i", "-o", "-e"] },
  ionice: { valued: ["-c", "-n", "--class", "--classdata"] },
  chrt: { valued: [], leadingArgs: 1 },
  taskset: { valued: [], leadingArgs: 1 },
  setsid: { valued: [] },
  flock: { valued: ["-w", "-E", "--timeout", "--conflict-exit-code"], leadingArgs: 1 },
  xargs: {
    valued: [
      "-I",
      "-i",
      "-n",
      "-P",
      "-L",
      "-l",
      "-d",
      "-a",
      "-E",
      "-e",
      "-s",
      "--max-args",
      "--max-procs",
      "--delimiter",
      "--arg-file",
      "--replace",
    ],
  },
  watch: { valued: ["-n", "--interval", "-d", "--differences"] },
  unbuffer: { valued: [] },
  caffeinate: { valued: ["-t", "-w"] },
  proxychains: { valued: ["-f"] },
  proxychains4: { valued: ["-f"] },
  torsocks: { valued: [] },
};

export const SSH_VALUED = new Set([
  "-b",
  "-c",
  "-D",
  "-E",
  "-e",
  "-F",
  "-I",
  "-i",
  "-J",
  "-L",
  "-l",
  "-m",
  "-O",
  "-o",
  "-p",
  "-Q",
  "-R",
  "-S",
  "-W",
  "-w",
]);
