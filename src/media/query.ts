import { execFile } from "node:child_process";

export interface QueryResult {
  /** undefined when the process did not run to an exit (not found, killed, timed out). */
  exitCode?: number;
  stdout: string;
  stderr: string;
  /** Why it did not run or was stopped: ENOENT, EACCES, a signal, a timeout. */
  error?: Error & { code?: string | number; signal?: string; killed?: boolean };
  timedOut: boolean;
  canceled: boolean;
}

/**
 * Run a short-lived binary (ffprobe, `-version`) and collect its output; never rejects.
 * Node's own execFile, not execa: these calls gate every cold run, and loading execa
 * first would add about 130 ms before the first one could start (measured on 2 cores).
 */
export function query(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs: number; signal?: AbortSignal }): Promise<QueryResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { env: options.env, timeout: options.timeoutMs, signal: options.signal, maxBuffer: 256 * 2 ** 20, encoding: "utf8", windowsHide: true },
      (error, stdout, stderr) => {
        const failure = error as QueryResult["error"] | null;
        resolve({
          exitCode: typeof failure?.code === "number" ? failure.code : failure ? undefined : 0,
          stdout,
          stderr,
          error: failure ?? undefined,
          timedOut: Boolean(failure?.killed && !options.signal?.aborted && failure.signal === "SIGTERM"),
          canceled: Boolean(options.signal?.aborted),
        });
      },
    );
    child.stdin?.end();
  });
}
