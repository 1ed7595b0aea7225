/** The few logger methods we use; Vite's logger fits, and so does a CLI's. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  /** Failures; falls back to `warn` where a logger has no error level. */
  error?(message: string): void;
  /** Detail shown only when asked for (`--verbose`). */
  debug?(message: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {} };

/** A failure that is not a FramecacheError is a bug of ours, not of the project: an error, with its stack. */
export function logBug(logger: Logger, error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  (logger.error ?? logger.warn).call(logger, `framecache: internal error, please report it: ${text}`);
}

export interface DedupedLogger extends Logger {
  /**
   * Warn once per cause; repeats are counted, not printed. The cause is the message
   * itself unless given (e.g. an error code, when the text names one video of many).
   */
  warn(message: string, cause?: string): void;
  /** Causes warned so far. */
  warned: Set<string>;
  /** How often each cause was warned. */
  counts: Map<string, number>;
  /** Print one `<first message> (×N)` line per cause that repeated since the last flush. */
  flush(): void;
}

/** Warn once per distinct cause, so a cause repeated across videos is one line with a count. */
export function dedupeWarnings(logger: Logger): DedupedLogger {
  const warned = new Set<string>();
  const counts = new Map<string, number>();
  const first = new Map<string, string>();
  const flushed = new Map<string, number>();
  return {
    warned,
    counts,
    info: (message) => logger.info(message),
    error: (message) => (logger.error ?? logger.warn).call(logger, message),
    debug: (message) => logger.debug?.(message),
    warn: (message, cause = message) => {
      counts.set(cause, (counts.get(cause) ?? 0) + 1);
      if (warned.has(cause)) return;
      warned.add(cause);
      first.set(cause, message);
      flushed.set(cause, 1);
      logger.warn(message);
    },
    flush: () => {
      for (const [cause, count] of counts) {
        if (count <= (flushed.get(cause) ?? 0)) continue;
        flushed.set(cause, count);
        logger.warn(`${first.get(cause)!.split("\n")[0]} (×${count})`);
      }
    },
  };
}
