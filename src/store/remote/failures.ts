import { TransportError } from "./http.js";

/** A non-2xx answer other than a plain 404 miss. */
export class StatusError extends Error {
  override readonly name = "StatusError";
  readonly code = "REMOTE_STATUS";
  constructor(
    readonly status: number,
    readonly method: string,
    readonly detail: string,
  ) {
    super(`HTTP ${status}${detail ? ` (${detail})` : ""}`);
  }
}

/**
 * A server that answers 413 before reading the body often closes the socket under
 * it, and the client may see the cut before the answer; both get one message.
 */
export class UploadCut extends Error {
  override readonly name = "UploadCut";
  readonly code = "REMOTE_UPLOAD_CUT";
}

export function tooLarge(remote: string): string {
  return `${remote} refused an upload as too large (HTTP 413, or the connection cut mid-upload); raise its body limit (BODY_LIMIT on turborepo-remote-cache) to share big entries`;
}

export function cutMidUpload(error: unknown): boolean {
  const code = error instanceof TransportError ? (error.cause as NodeJS.ErrnoException | undefined)?.code : (error as NodeJS.ErrnoException)?.code;
  return code === "EPIPE" || code === "ECONNRESET";
}

/** Connection failures seen on a response body (request failures arrive as TransportError). */
const NETWORK_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

export function isNetworkError(error: unknown): boolean {
  return NETWORK_CODES.has((error as NodeJS.ErrnoException)?.code ?? "");
}

export function networkCode(error: unknown): string {
  if (error instanceof TransportError) return error.message;
  return (error as NodeJS.ErrnoException).code ?? "network error";
}
