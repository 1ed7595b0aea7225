import { spawn, spawnSync, execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { x } from "tar";
import { until } from "./dev.js";

export const REPO = join(__dirname, "../..");

/** `npm pack` of the built package into `dir`: what a user's `npm install` gets. */
export function packPackage(dir: string): string {
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: REPO, encoding: "utf8" });
  const [{ filename }] = JSON.parse(out) as [{ filename: string }];
  return join(dir, filename);
}

interface PackageJson {
  dependencies?: Record<string, string>;
  bin?: Record<string, string>;
}

/**
 * Install the packed tarball into `project` as npm lays it out, without the network: the tarball
 * extracted into node_modules/vite-plugin-framecache (only what `files` ships), each dependency it
 * *declares* linked from the repo's node_modules (an undeclared one does not resolve: the project
 * lives in a temp dir with no node_modules above it), its `bin` linked into node_modules/.bin, and
 * `extra` (name → folder in the repo's node_modules, e.g. vite → vite5) linked beside it.
 */
export async function installPacked(project: string, tarball: string, extra: Record<string, string>): Promise<void> {
  const modules = join(project, "node_modules");
  const own = join(modules, "vite-plugin-framecache");
  mkdirSync(own, { recursive: true });
  await x({ file: tarball, cwd: own, strip: 1 });
  const pkg = JSON.parse(readFileSync(join(own, "package.json"), "utf8")) as PackageJson;
  const links: Record<string, string> = { ...Object.fromEntries(Object.keys(pkg.dependencies ?? {}).map((d) => [d, d])), ...extra };
  for (const [name, from] of Object.entries(links)) {
    const target = join(REPO, "node_modules", from);
    if (!existsSync(target)) throw new Error(`${from} is not installed in the repo (run npm ci)`);
    mkdirSync(dirname(join(modules, name)), { recursive: true });
    symlinkSync(target, join(modules, name));
  }
  mkdirSync(join(modules, ".bin"), { recursive: true });
  for (const [name, file] of Object.entries(pkg.bin ?? {})) {
    chmodSync(join(own, file), 0o755);
    symlinkSync(join("..", "vite-plugin-framecache", file), join(modules, ".bin", name));
  }
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Served {
  origin: string;
  output: () => string;
  close: () => Promise<void>;
}

/** Run `node <script> ...args` in `cwd` as a server on a free port and wait until it answers. */
export async function serve(cwd: string, script: string, args: string[]): Promise<Served> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [script, ...args, "--host", "127.0.0.1", "--port", String(port), "--strictPort"], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString("utf8")));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString("utf8")));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const close = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
  };
  try {
    await until(() => {
      if (child.exitCode !== null) throw new Error(`server exited: ${output}`);
      return output.includes(`:${port}`);
    }, `the server in ${cwd}`, 30_000);
  } catch (error) {
    await close();
    throw new Error(`${String(error)}\n${output}`);
  }
  return { origin: `http://127.0.0.1:${port}`, output: () => output, close };
}

/** Run `node <script> ...args` in `cwd` to the end; fails with its output if it exits non-zero. */
export function run(cwd: string, script: string, args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [script, ...args], { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
  if (r.status !== 0) throw new Error(`${script} ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}
