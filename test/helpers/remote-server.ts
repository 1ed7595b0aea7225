import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readdirSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { create } from "tar";

const BIN = join(__dirname, "../../node_modules/.bin/turborepo-remote-cache");

export interface RemoteServer {
  /** Base URL, e.g. http://127.0.0.1:43121 */
  url: string;
  token: string;
  /** Where the server keeps artifacts: `<storage>/<team>/<key>`. */
  storage: string;
  stop(): Promise<void>;
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

/**
 * The real open-source `turborepo-remote-cache` server (a devDependency) as a
 * child process on 127.0.0.1, with local storage under `dir`; resolves once it
 * answers its status route.
 */
export async function startRemoteServer(dir: string, options: { token?: string; env?: Record<string, string> } = {}): Promise<RemoteServer> {
  const token = options.token ?? "secret-token";
  const storage = join(dir, "remote-storage");
  mkdirSync(storage, { recursive: true });
  const port = await freePort();
  const child = spawn(BIN, [], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      PORT: String(port),
      STORAGE_PROVIDER: "local",
      STORAGE_PATH: storage,
      STORAGE_PATH_USE_TMP_FOLDER: "false",
      TURBO_TOKEN: token,
      LOG_LEVEL: "error",
      ...options.env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += String(chunk)));
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(child, url, token, () => stderr);
  return { url, token, storage, stop: () => stop(child) };
}

async function waitUntilReady(child: ChildProcess, url: string, token: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`turborepo-remote-cache exited with ${child.exitCode}: ${stderr()}`);
    try {
      const res = await fetch(`${url}/v8/artifacts/status`, { headers: { authorization: `Bearer ${token}` } });
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`turborepo-remote-cache did not become ready: ${stderr()}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A TCP server that accepts connections and never says a word: for timeouts. */
export async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<import("node:net").Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** A folder as a Turborepo artifact body: a tar of its files. */
export async function tarOf(cwd: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of create({ cwd, portable: true }, readdirSync(cwd).sort())) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
