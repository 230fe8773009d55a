/**
 * Command families the shell analysis must know: wrappers that run another command,
 * shells and interpreters that run code, and environment variables that change what a
 * command runs.
 */

/** How a wrapper's options are read. `transparent`: it changes nothing rules care about. */
export interface WrapperSpec {
  /** Options that take a value as the next word (`-u USER`). */
  readonly valued: readonly string[];
  /** Operands before the wrapped command (`timeout DURATION cmd`). */
  readonly leading?: number;
  readonly transparent: boolean;
  /** `NAME=value` words before the command are environment assignments (`env`). */
  readonly assignments?: boolean;
}

export const WRAPPERS: Readonly<Record<string, WrapperSpec>> = {
  env: {
    valued: ["-u", "--unset", "-C", "--chdir", "-S", "--split-string"],
    transparent: true,
    assignments: true,
  },
  nohup: { valued: [], transparent: true },
  nice: { valued: ["-n", "--adjustment"], transparent: true },
  timeout: { valued: ["-s", "-k", "--signal", "--kill-after"], leading: 1, transparent: true },
  time: { valued: ["-f", "-o", "--format", "--output"], transparent: true },
  command: { valued: [], transparent: true },
  builtin: { valued: [], transparent: true },
  exec: { valued: ["-a"], transparent: true },
  stdbuf: { valued: ["-i", "-o", "-e", "--input", "--output", "--error"], transparent: true },
  ionice: { valued: ["-c", "-n", "--class", "--classdata"], transparent: true },
  chrt: { valued: [], leading: 1, transparent: true },
  taskset: { valued: [], leading: 1, transparent: true },
  setsid: { valued: [], transparent: true },
  unbuffer: { valued: [], transparent: true },
  caffeinate: { valued: ["-t", "-w"], transparent: true },
  flock: { valued: ["-w", "-E", "--timeout", "--conflict-exit-code"], leading: 1, transparent: true },
  busybox: { valued: [], transparent: true },
  toybox: { valued: [], transparent: true },
  // moreutils and friends that run the rest of the line as a command (ADR 2002, round 3).
  chronic: { valued: [], transparent: true },
  ifne: { valued: [], transparent: true },
  catchsegv: { valued: [], transparent: true },
  rlwrap: {
    valued: [
      "-a",
      "-b",
      "-C",
      "-D",
      "-e",
      "-f",
      "-g",
      "-H",
      "-l",
      "-m",
      "-M",
      "-O",
      "-p",
      "-P",
      "-q",
      "-s",
      "-S",
      "-t",
      "-w",
      "-z",
    ],
    transparent: true,
  },
  faketime: { valued: ["-f", "-m", "-p"], leading: 1, transparent: true },
  valgrind: { valued: [], transparent: false },
  firejail: { valued: [], transparent: false },
  run0: {
    valued: [
      "-u",
      "--user",
      "-g",
      "--group",
      "-D",
      "--chdir",
      "--setenv",
      "--unit",
      "--description",
      "--slice",
      "--property",
      "--nice",
      "--machine",
    ],
    transparent: false,
  },
  strace: {
    valued: [
      "-o",
      "-e",
      "-p",
      "-s",
      "-u",
      "-E",
      "-a",
      "-b",
      "-I",
      "-O",
      "-P",
      "-S",
      "-X",
      "--output",
      "--user",
    ],
    transparent: false,
  },
  ltrace: {
    valued: ["-o", "-e", "-p", "-s", "-u", "-a", "-n", "-A", "-D", "-F", "-l", "-x", "--output"],
    transparent: false,
  },
  sudo: {
    valued: ["-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-T", "-U", "--user", "--group", "--chdir"],
    transparent: false,
  },
  doas: { valued: ["-u", "-C"], transparent: false },
  pkexec: { valued: ["--user"], transparent: false },
  runuser: { valued: ["-u", "-g", "-G", "--user", "--group"], transparent: false },
  chroot: { valued: ["--userspec", "--groups"], leading: 1, transparent: false },
  unshare: { valued: ["-S", "-G", "--setuid", "--setgid"], transparent: false },
  nsenter: { valued: ["-t", "--target", "-S", "-G"], transparent: false },
  torsocks: { valued: [], transparent: false },
  proxychains: { valued: ["-f"], transparent: false },
  proxychains4: { valued: ["-f"], transparent: false },
  xargs: {
    // `-i[R]`, `-l[N]`, `-e[E]`, `--replace[=R]`, `--max-lines[=N]`, `--eof[=E]` take their
    // value attached or not at all: the next word is already the command.
    valued: [
      "-I",
      "-n",
      "-P",
      "-L",
      "-d",
      "-a",
      "-E",
      "-s",
      "--max-args",
      "--max-procs",
      "--delimiter",
      "--arg-file",
      "--max-chars",
    ],
    transparent: false,
  },
  parallel: {
    valued: ["-j", "--jobs", "-S", "--sshlogin", "--joblog", "--delay", "--timeout"],
    transparent: false,
  },
};

/** Shells: `-c SCRIPT`, a script file, or a script on stdin. */
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
  "rbash",
  "yash",
  "posh",
]);

/** Interpreters and the options that take inline code. */
const INLINE: Readonly<Record<string, readonly string[]>> = {
  python: ["-c"],
  pypy: ["-c"],
  perl: ["-e", "-E"],
  ruby: ["-e"],
  node: ["-e", "--eval", "-p", "--print"],
  nodejs: ["-e", "--eval", "-p", "--print"],
  bun: ["-e", "--eval", "-p", "--print"],
  deno: ["eval"],
  php: ["-r"],
  lua: ["-e"],
  luajit: ["-e"],
  osascript: ["-e"],
  rscript: ["-e"],
  pwsh: ["-c", "-command", "-encodedcommand", "-ec"],
  powershell: ["-c", "-command", "-encodedcommand", "-ec"],
  jshell: ["-c"],
  tclsh: [],
  expect: ["-c"],
  gdb: ["-ex", "--eval-command"],
};

/** Interpreters that run code from an argument, a file or stdin. */
export const INTERPRETERS =
  /^(python[0-9.]*|pypy[0-9.]*|perl[0-9.]*|ruby[0-9.]*|node|nodejs|deno|bun|php[0-9.]*|lua[0-9.]*|luajit|rscript|osascript|tclsh|wish|pwsh|powershell|expect)$/;

/** The interpreter family of a command name (`python3.12` → `python`), when it has inline-code options. */
export function inlineFlags(name: string): readonly string[] | undefined {
  if (!INTERPRETERS.test(name) && name !== "gdb" && name !== "jshell") return undefined;
  return INLINE[name.replace(/[0-9.]+$/, "")];
}

/**
 * Environment variables that change which program runs or what it loads: with one of these
 * set by the line, the command is not what its words say.
 */
const DANGEROUS_ENV =
  /^(BASH_FUNC_.*|LD_[A-Z_]+|DYLD_[A-Z_]+|PATH|BASH_ENV|ENV|PROMPT_COMMAND|PS[0-4]|SHELLOPTS|BASHOPTS|IFS|CDPATH|HOME|ZDOTDIR|XDG_CONFIG_HOME|GCONV_PATH|LOCPATH|HOSTALIASES|GIT_(CONFIG[A-Z_0-9]*|EXEC_PATH|EXTERNAL_DIFF|SSH|SSH_COMMAND|EDITOR|SEQUENCE_EDITOR|PAGER|ASKPASS|PROXY_COMMAND|DIR|COMMON_DIR|TEMPLATE_DIR|WORK_TREE|ALLOW_PROTOCOL)|SSH_ASKPASS|SUDO_ASKPASS|[A-Z_]*PAGER|EDITOR|VISUAL|BROWSER|LESSOPEN|LESSCLOSE|LESSKEY|MANOPT|PYTHONSTARTUP|PYTHONHOME|PYTHONINSPECT|PERL5OPT|PERL5DB|RUBYOPT|NODE_OPTIONS|NODE_REPL_EXTERNAL_MODULE|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS|npm_config_(script_shell|node_options|git|shell|editor|browser|onload_script|init_module)|NPM_CONFIG_(SCRIPT_SHELL|NODE_OPTIONS|GIT|SHELL|EDITOR|BROWSER|ONLOAD_SCRIPT|INIT_MODULE))$/;

/** Values of pager/editor variables that run nothing else. */
const HARMLESS_PROGRAM = /^(|cat|true|:|less|more|less -R|less -FRX)$/;

/** True when assigning `value` to `name` may change what a command runs. */
export function isDangerousEnv(name: string, value: string | undefined): boolean {
  if (!DANGEROUS_ENV.test(name)) return false;
  if (/(PAGER|EDITOR|VISUAL)$/.test(name) && value !== undefined && HARMLESS_PROGRAM.test(value))
    return false;
  return true;
}

/** git configuration keys whose value is a command, a program or a file of more configuration. */
export const GIT_COMMAND_KEYS =
  /^(core\.(pager|editor|sshcommand|fsmonitor|hookspath|askpass|gitproxy|attributesfile|worktree)|sequence\.editor|diff\.external|diff\..*\.(textconv|command)|difftool\..*\.cmd|mergetool\..*\.cmd|merge\..*\.driver|filter\..*\.(clean|smudge|process)|alias\..*|credential\..*|credential\.helper|gpg\..*program|gpg\.program|uploadpack\.packobjectshook|include\.path|includeif\..*|init\.templatedir|pager\..*|web\.browser|browser\..*\.cmd|man\..*\.cmd|sendemail\..*|remote\..*\.(uploadpack|receivepack|vcs)|protocol\..*|http\..*\.?proxy|url\..*|submodule\..*\.update|instaweb\..*|safe\.directory)$/i;

/** Compression programs `tar -I` may name without running anything else. */
export const COMPRESSORS =
  /^(gzip|gunzip|pigz|bzip2|pbzip2|xz|pixz|zstd|unzstd|lz4|lzma|lzip|lzop|brotli)( -[A-Za-z0-9=-]+)*$/;
