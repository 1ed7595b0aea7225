import { createServer } from "node:net";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";

/** One argument for `sh`, quoted so the shell passes it through unchanged. */
function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** An environment without the variables that change how output looks. */
export function plainEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !["CI", "NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS"].includes(k)) env[k] = v;
  }
  return { ...env, TERM: "xterm-256color", ...extra };
}

/**
 * Run a command under a real pseudo-terminal (util-linux `script`), 100 columns wide,
 * and return every byte it wrote, escapes included.
 */
export async function underPty(args: string[], options: { cwd: string; env: Record<string, string> }): Promise<{ exitCode: number; output: string }> {
  const command = `stty cols 100 rows 30; exec ${args.map(shellQuote).join(" ")}`;
  const result = await execa("script", ["-qfec", command, "/dev/null"], {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    stdin: "ignore",
    reject: false,
  });
  return { exitCode: result.exitCode ?? -1, output: String(result.stdout) };
}

/**
 * What a terminal shows after `raw` was written: `\r`, `\n`, erase-line (`ESC[K`, `ESC[2K`)
 * and cursor-to-column (`ESC[nG`) are applied; colours are dropped.
 */
export function screen(raw: string): string[] {
  const lines: string[] = [];
  let line: string[] = [];
  let col = 0;
  const tokens = raw.match(/\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\x1b\r\n]/gu) ?? [];
  for (const token of tokens) {
    if (token === "\n") {
      lines.push(line.join("").trimEnd());
      line = [];
      col = 0;
    } else if (token === "\r") col = 0;
    else if (token.startsWith("\x1b[")) {
      const final = token.at(-1);
      const n = Number(token.slice(2, -1) || 0);
      if (final === "K" && n === 0) line = line.slice(0, col);
      else if (final === "K" && n === 2) line = [];
      else if (final === "G") col = Math.max(0, n - 1);
    } else {
      while (line.length < col) line.push(" ");
      line[col++] = token;
    }
  }
  if (line.length > 0) lines.push(line.join("").trimEnd());
  return lines;
}

export function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** A real turborepo-remote-cache server with local storage, accepting `token`. */
export async function remoteCacheServer(storage: string, token: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child: ResultPromise = execa("node", [join(__dirname, "../../node_modules/turborepo-remote-cache/dist/cli.js")], {
    env: { PORT: String(port), HOST: "127.0.0.1", TURBO_TOKEN: token, STORAGE_PROVIDER: "local", STORAGE_PATH: storage, LOG_LEVEL: "silent", NODE_ENV: "production" },
    reject: false,
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const up = await fetch(`${url}/v8/artifacts/status`).then(() => true, () => false);
    if (up) return { url, stop: async () => void (child.kill(), await child) };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`turborepo-remote-cache did not start: ${(await child).stderr}`);
}
