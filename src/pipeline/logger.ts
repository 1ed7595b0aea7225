/** The few logger methods we use; Vite's logger fits, and so does a CLI's. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {} };

/** Warn once per distinct message, so a cause repeated across videos is one line. */
export function dedupeWarnings(logger: Logger): Logger & { warned: Set<string> } {
  const warned = new Set<string>();
  return {
    warned,
    info: (message) => logger.info(message),
    warn: (message) => {
      if (warned.has(message)) return;
      warned.add(message);
      logger.warn(message);
    },
  };
}
