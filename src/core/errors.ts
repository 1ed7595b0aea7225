/** Stable error codes; callers and tests match on these, never on message text. */
export type ErrorCode =
  | "FC_SOURCE_MISSING"
  | "FC_NOT_A_VIDEO"
  | "FC_MEDIA_START_PAST_END"
  | "FC_OUTSIDE_ROOT"
  | "FC_FFMPEG_MISSING"
  | "FC_FFMPEG_TOO_OLD"
  | "FC_FFMPEG_FAILED"
  | "FC_FFMPEG_TIMEOUT"
  | "FC_BAD_OPTION"
  | "FC_BAD_ATTRIBUTE"
  | "FC_COMPOSITION_MISSING"
  | "FC_COMPOSITION_CYCLE"
  | "FC_NO_SPACE"
  | "FC_CACHE_UNWRITABLE"
  | "FC_TOO_MANY_FILES"
  | "FC_CACHE_DAMAGED"
  | "FC_CANCELLED"
  | "FC_STORE_CORRUPT"
  | "FC_REMOTE_SOURCE"
  | "FC_SOURCE_CHANGED"
  | "FC_REMOTE_NOT_ALLOWED"
  | "FC_DOWNLOAD_NOT_FOUND"
  | "FC_DOWNLOAD_DENIED"
  | "FC_DOWNLOAD_TRUNCATED"
  | "FC_DOWNLOAD_TOO_LARGE"
  | "FC_DOWNLOAD_REDIRECT"
  | "FC_DOWNLOAD_TIMEOUT"
  | "FC_DOWNLOAD_TLS"
  | "FC_DOWNLOAD_FAILED";

/** Where in a composition a problem sits (1-based line and column, as editors count). */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export interface FramecacheErrorOptions {
  loc?: SourceLocation;
  /** What the user should do about it. */
  hint?: string;
  cause?: unknown;
}

export class FramecacheError extends Error {
  override readonly name = "FramecacheError";
  readonly code: ErrorCode;
  readonly loc?: SourceLocation;
  readonly hint?: string;
  /** The message without location and hint, for wrapping in a more specific one. */
  readonly detail: string;

  constructor(code: ErrorCode, message: string, options: FramecacheErrorOptions = {}) {
    const where = options.loc ? `${formatLocation(options.loc)}: ` : "";
    const hint = options.hint ? `\n  ${options.hint}` : "";
    super(`${where}${message}${hint}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.loc = options.loc;
    this.hint = options.hint;
    this.detail = message;
  }
}

/** A problem that does not stop the work: logged once, with its location. */
export interface Warning {
  code: ErrorCode;
  message: string;
  loc: SourceLocation;
}

/** `file:line:col: message`, as every warning of a composition is printed. */
export function warningLine(warning: Warning): string {
  return `${formatLocation(warning.loc)}: ${warning.message}`;
}

export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.column}`;
}

export function isFramecacheError(error: unknown, code?: ErrorCode): error is FramecacheError {
  return error instanceof FramecacheError && (code === undefined || error.code === code);
}
