import { frameFileName, framePattern } from "./frames.js";
import { ENTRY_NAME_PATTERN, type FrameFormat } from "./key.js";

/** The dev server's URL prefix for frames. Nothing but complete frames is ever served under it. */
export const DEV_PREFIX = "/@framecache/";

export interface DevFrameRequest {
  entry: string;
  /** 1-based, as in the file name. */
  index: number;
  format: FrameFormat;
}

/** The `data-frames` pattern of an entry in dev: `/@framecache/<entry>/frame_%05d.<ext>`. */
export function devFramesUrl(entry: string, format: FrameFormat): string {
  return `${DEV_PREFIX}${entry}/${framePattern(format)}`;
}

const DEV_FRAME = /^\/@framecache\/([^/]+)\/(frame_(\d{5,})\.(jpg|png))$/;

/**
 * The frame a request path names, or undefined. The path is taken raw (not
 * percent-decoded): anything encoded, any `..`, any other file, and any
 * non-canonical spelling (`frame_000001.jpg` for frame 1) is not a frame.
 */
export function parseDevFrameUrl(path: string): DevFrameRequest | undefined {
  const m = DEV_FRAME.exec(path);
  if (!m) return undefined;
  const [, entry = "", name = "", digits = "", format = ""] = m;
  if (!ENTRY_NAME_PATTERN.test(entry)) return undefined;
  const index = Number(digits);
  const fmt = format as FrameFormat;
  if (!Number.isSafeInteger(index) || index < 1 || frameFileName(index, fmt) !== name) return undefined;
  return { entry, index, format: fmt };
}

/**
 * Whether a request path falls under the prefix however it is spelled (encoded,
 * double-encoded, with `//` or `./`), so that the dev server answers it itself,
 * with a 404 unless it is a frame, instead of passing it on to other middleware.
 */
export function isUnderDevPrefix(path: string): boolean {
  let current = path;
  for (let round = 0; round < 4; round++) {
    if (normalize(current).toLowerCase().startsWith("/@framecache")) return true;
    let decoded: string;
    try {
      decoded = decodeURIComponent(current);
    } catch {
      return false;
    }
    if (decoded === current) return false;
    current = decoded;
  }
  return false;
}

/** Collapse `//`, `/./` and backslashes the way a lenient server would read them. */
function normalize(path: string): string {
  return path.replace(/\\/g, "/").replace(/\/(?:\.?\/)+/g, "/");
}
