import pc from "picocolors";

/** What the terminal helpers need from a stream; `process.stdout`/`stderr` fit. */
export interface TermStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export type Colors = ReturnType<typeof pc.createColors>;

/**
 * A live line may be redrawn in place: a terminal that is not a CI log, as Vite decides.
 * Anything else gets plain lines, so logs never fill with `\r` and escape codes.
 */
export function isInteractive(stream: TermStream | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream?.isTTY) && !env.CI && env.TERM !== "dumb";
}

/** Colour only on a terminal, never with NO_COLOR (https://no-color.org); FORCE_COLOR forces it. */
export function useColor(stream: TermStream | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== "0") return true;
  return Boolean(stream?.isTTY) && env.TERM !== "dumb";
}

export function colorsFor(stream: TermStream | undefined, env: NodeJS.ProcessEnv = process.env): Colors {
  return pc.createColors(useColor(stream, env));
}

/** Columns of a terminal; a pty without a size reports 0. */
export function columnsOf(stream: TermStream | undefined): number {
  return stream?.columns && stream.columns > 0 ? stream.columns : 80;
}

/** Move to column 0 and erase the line. */
export const CLEAR_LINE = "\r\x1b[K";

/** File names can hold anything; control characters must never reach a terminal or a log. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
}
