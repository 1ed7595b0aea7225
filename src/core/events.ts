/**
 * The HMR event of the dev server, shared with the browser runtime, so this file
 * imports nothing.
 */
export const UPDATE_EVENT = "framecache:update";

/** The payload of `framecache:update`: every video whose served attributes changed. */
export interface FramecacheUpdate {
  compositions: { composition: string; videos: UpdatedVideo[] }[];
}

export interface UpdatedVideo {
  /** `data-hf-render-id`, `id`, or `hf-video-<n>`, as the scanner names it. */
  id: string;
  /** The `data-frames` the page was served before, to find the element; null when it had none. */
  previous: string | null;
  frames: string | null;
  frameCount: number | null;
  fps: number | string | null;
  /** Every attribute of the `<video>` as a reload would now serve it. */
  attributes: Record<string, string>;
}
