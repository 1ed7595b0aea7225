import { spawn, type ChildProcess } from "node:child_process";
import { setPriority } from "node:os";

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Stop the process after this long (SIGTERM, then SIGKILL if it lingers). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Collect stdout (the default), or hand each chunk to a callback as it comes. */
  onStdout?: (chunk: string) => void;
  /** Niceness for work nobody waits for (19: only what other processes leave idle). */
  priority?: number;
}

export interface RunResult {
  /** undefined when the process did not run to an exit (not found, killed, timed out). */
  exitCode?: number;
  /** The signal that ended it (a crash, or our own kill). */
  signal?: NodeJS.Signals;
  stdout: string;
  /** The last STDERR_TAIL characters: a decoder that logs on every frame must not fill memory. */
  stderr: string;
  /** Why it did not run: ENOENT, EACCES, ENOEXEC. */
  error?: NodeJS.ErrnoException;
  timedOut: boolean;
  canceled: boolean;
}

const STDERR_TAIL = 64 * 1024;
/** Processes still running, stopped when this process exits: an orphaned ffmpeg would write on unwatched. */
const live = new Set<ChildProcess>();
let reaping = false;
/** A process that ignores SIGTERM this long is killed outright. */
const KILL_GRACE_MS = 2000;

/**
 * Run a binary with an argument array, never through a shell; never rejects.
 * Node's own spawn rather than execa: importing execa costs 130–150 ms of CPU, which on
 * the 2-core bench machine is more than everything else framecache adds to a cold extraction.
 */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const result: RunResult = { stdout: "", stderr: "", timedOut: false, canceled: false };
    if (options.signal?.aborted) return resolve({ ...result, canceled: true });
    let child: ChildProcess;
    try {
      child = spawn(file, args, { env: options.env, stdio: ["ignore", "pipe", "pipe"], windowsHide: true });
    } catch (error) {
      // E2BIG, a NUL in an argument: thrown, not emitted.
      return resolve({ ...result, error: error as NodeJS.ErrnoException });
    }
    live.add(child);
    if (options.priority !== undefined && child.pid !== undefined) {
      try {
        setPriority(child.pid, options.priority);
      } catch {
        // Not allowed here: it runs at normal priority.
      }
    }
    if (!reaping) {
      reaping = true;
      process.once("exit", () => live.forEach((c) => c.kill("SIGKILL")));
    }
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    let killer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (settled) return;
      settled = true;
      live.delete(child);
      clearTimeout(timer);
      clearTimeout(killer);
      options.signal?.removeEventListener("abort", onAbort);
      if (exited?.code != null && !result.error) result.exitCode = exited.code;
      if (exited?.signal) result.signal = exited.signal;
      resolve(result);
    };
    // Done once it has exited, even if something it started still holds its pipes.
    const letGo = () => {
      child.stdout?.destroy();
      child.stderr?.destroy();
      finish();
    };
    const stop = (why: "timedOut" | "canceled") => {
      // Exited, it has done its work, so a timeout now is none; but cancelled, what it wrote may
      // still be in a pipe something it started holds, and is cut short: the caller must know.
      if (exited) {
        if (why === "canceled") result.canceled = true;
        return letGo();
      }
      if (killer) return;
      result[why] = true;
      child.kill("SIGTERM");
      killer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
    };
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => stop("timedOut"), options.timeoutMs);
    const onAbort = () => stop("canceled");
    options.signal?.addEventListener("abort", onAbort, { once: true });

    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", options.onStdout ?? ((chunk: string) => (result.stdout += chunk)));
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => (result.stderr = (result.stderr + chunk).slice(-STDERR_TAIL)));
    child.on("error", (error) => (result.error = error));
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      if (result.timedOut || result.canceled) letGo();
    });
    child.on("close", (code, signal) => {
      exited ??= { code, signal };
      finish();
    });
  });
}
