/**
 * Browser helper: shows, for each `<video data-frames>` of a composition, the exact
 * extracted frame for a time `t`, so a preview can scrub frame-accurately. Plain
 * DOM, no Node imports; works on dev pages and on built ones alike.
 */
import { UPDATE_EVENT, type FramecacheUpdate } from "../core/events.js";
import { explicitVideoId, GENERATED_ID_PREFIX } from "../core/video-id.js";
import { parseStrictNumber } from "../core/time.js";
import { clipTiming, frameIndexAt, frameUrl } from "./frame-math.js";

export { clipTiming, frameIndexAt, frameUrl, parseFrameRate, type ClipTiming } from "./frame-math.js";
export { UPDATE_EVENT, type FramecacheUpdate, type UpdatedVideo } from "../core/events.js";

export interface PreviewOptions {
  /** Frames fetched ahead of the one shown, per video. @default 3 */
  preload?: number;
  /**
   * On a page that runs the HyperFrames runtime (`window.__player`), show the player's time on
   * every animation frame, on seek and during playback, without the page calling `seek`. @default true
   */
  followPlayer?: boolean;
}

/** What the preview reads of the HyperFrames runtime's player. */
interface HyperframesPlayer {
  getTime(): number;
}

export interface Preview {
  /** Show every video's frame for composition time `t` (seconds). */
  seek(t: number): void;
  /** The time last sought. */
  readonly time: number;
  /** Remove the overlays, show the `<video>` elements again and stop listening for updates. */
  destroy(): void;
}

/** Class of the `<img>` that stands in for each video; style it as you style the video. */
export const OVERLAY_CLASS = "framecache-frame";
const LOADED = "data-framecache-loaded";
const PREFETCH_KEPT = 64;

/**
 * Replace each `<video data-frames>` under `root` by an `<img class="framecache-frame">`
 * placed right after it (the video is hidden; its inline style and size are copied),
 * showing frame `floor((t − start) · rate · fps + 1e-9)` (modulo its cycle when it loops)
 * and hidden outside the clip's `[start, end]` and past its hosts' ends, all from the
 * timing the plugin resolved (`data-frame-*`); a clip is offset by its hosts' starts.
 *
 * In `vite dev`, the plugin delivers `framecache:update` as a DOM event on `window`;
 * the preview applies it in place and the page does not reload.
 */
export function createPreview(root: ParentNode, options: PreviewOptions = {}): Preview {
  const preload = Math.max(0, options.preload ?? 3);
  const overlays = new Map<HTMLVideoElement, { img: HTMLImageElement; display: string }>();
  const prefetched = new Map<string, HTMLImageElement>();
  let time = 0;

  const overlayFor = (video: HTMLVideoElement): HTMLImageElement => {
    const known = overlays.get(video);
    if (known) return known.img;
    const img = document.createElement("img");
    img.className = OVERLAY_CLASS;
    img.alt = "";
    img.draggable = false;
    for (const name of ["style", "width", "height"]) {
      const value = video.getAttribute(name);
      if (value !== null) img.setAttribute(name, value);
    }
    img.dataset.framecacheFor = explicitVideoId((name) => video.getAttribute(name)) ?? "";
    video.after(img);
    overlays.set(video, { img, display: video.style.display });
    video.style.display = "none";
    return img;
  };

  const prefetch = (url: string): void => {
    if (prefetched.has(url)) return;
    const image = new Image();
    image.decoding = "async";
    image.src = url;
    prefetched.set(url, image);
    // Keep a bounded set alive until loaded; the HTTP cache (immutable URLs) keeps the bytes.
    if (prefetched.size > PREFETCH_KEPT) prefetched.delete(prefetched.keys().next().value!);
  };

  const render = (): void => {
    const seen = new Set<HTMLVideoElement>();
    for (const video of Array.from(root.querySelectorAll("video"))) {
      const pattern = video.getAttribute("data-frames");
      if (!pattern) continue;
      seen.add(video);
      const clip = clipTiming((name) => video.getAttribute(name));
      const { offset, cap } = placement(video, root);
      const index = frameIndexAt(time - offset, clip, cap - offset);
      const img = overlayFor(video);
      if (index === undefined) {
        img.style.display = "none";
        delete img.dataset.frame;
        continue;
      }
      const url = frameUrl(pattern, index + 1);
      // Setting src keeps the previous frame on screen until the new one is decoded: no flash.
      if (img.getAttribute("src") !== url) img.src = url;
      img.style.display = "";
      img.dataset.frame = String(index + 1);
      for (let ahead = 1; ahead <= preload && index + ahead < clip.frameCount; ahead++) prefetch(frameUrl(pattern, index + ahead + 1));
    }
    for (const [video, overlay] of overlays) {
      if (seen.has(video)) continue;
      overlay.img.remove();
      video.style.display = overlay.display;
      overlays.delete(video);
    }
  };

  const onUpdate = (event: Event): void => {
    const update = (event as CustomEvent<FramecacheUpdate>).detail;
    if (!update || !Array.isArray(update.compositions)) return;
    applyUpdate(root, update);
    render();
    // Tells the plugin's dev client that the page handled it: no reload.
    event.preventDefault();
  };
  if (typeof window !== "undefined") window.addEventListener(UPDATE_EVENT, onUpdate);

  // The player may load after this module: look for it on every frame, and follow only its changes,
  // so a page's own seek holds while the player stands still.
  let followed: number | undefined;
  let frame: number | undefined;
  const follow = (): void => {
    const player = (window as { __player?: Partial<HyperframesPlayer> }).__player;
    const t = typeof player?.getTime === "function" ? player.getTime() : undefined;
    if (typeof t === "number" && Number.isFinite(t) && t !== followed) {
      followed = t;
      time = t;
      render();
    }
    frame = requestAnimationFrame(follow);
  };
  if (options.followPlayer !== false && typeof requestAnimationFrame === "function") frame = requestAnimationFrame(follow);

  return {
    seek(t: number) {
      time = t;
      render();
    },
    get time() {
      return time;
    },
    destroy() {
      if (typeof window !== "undefined") window.removeEventListener(UPDATE_EVENT, onUpdate);
      if (frame !== undefined) cancelAnimationFrame(frame);
      for (const [video, overlay] of overlays) {
        overlay.img.remove();
        video.style.display = overlay.display;
      }
      overlays.clear();
      prefetched.clear();
    },
  };
}

/**
 * Apply a `framecache:update` to the videos under `root`: each changed video,
 * found by its id and the frames it showed, takes the `data-*` attributes a
 * reload would serve. Returns how many elements changed.
 */
export function applyUpdate(root: ParentNode, update: FramecacheUpdate): number {
  let applied = 0;
  const videos = Array.from(root.querySelectorAll("video"));
  for (const composition of update.compositions) {
    for (const changed of composition.videos) {
      for (const video of videos) {
        const id = explicitVideoId((name) => video.getAttribute(name));
        const sameId = id === changed.id || (id === undefined && changed.id.startsWith(GENERATED_ID_PREFIX));
        const sameFrames = changed.previous === null ? sameId : video.getAttribute("data-frames") === changed.previous;
        if (!sameId || !sameFrames) continue;
        syncDataAttributes(video, changed.attributes);
        applied++;
      }
    }
  }
  return applied;
}

/**
 * Fetch every `data-composition-src` in `root` (itself included) and insert it into its host,
 * recursively: the composition element of the fetched file (its `<template>`
 * contents unwrapped, scripts dropped), with paths relative to that file.
 */
export async function mountNested(root: ParentNode): Promise<void> {
  const candidates = Array.from(root.querySelectorAll<HTMLElement>("[data-composition-src]"));
  if (root instanceof HTMLElement && root.hasAttribute("data-composition-src")) candidates.unshift(root);
  const hosts = candidates.filter((h) => !h.hasAttribute(LOADED));
  await Promise.all(
    hosts.map(async (host) => {
      const base = host.parentElement?.closest(`[${LOADED}]`)?.getAttribute(LOADED) ?? document.baseURI;
      const url = new URL(host.getAttribute("data-composition-src")!, base).href;
      host.setAttribute(LOADED, url);
      const response = await fetch(url);
      if (!response.ok) throw new Error(`framecache: ${url} answered ${response.status}`);
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const script of Array.from(doc.querySelectorAll("script"))) script.remove();
      const composition = doc.querySelector("[data-composition-id]");
      let template: HTMLTemplateElement | null;
      const scope = composition ?? doc.body;
      while ((template = scope.querySelector("template"))) template.replaceWith(template.content);
      if (composition) host.append(document.importNode(composition, true));
      else host.append(...Array.from(doc.body.childNodes).map((n) => document.importNode(n, true)));
      await mountNested(host);
    }),
  );
}

/**
 * Where a clip's file sits on the timeline of `root`: the sum of its hosts' starts, and the earliest
 * cut-off above it (a host's end, the entry's end), both as the plugin resolved them (`data-frame-start`,
 * `data-frame-end`). On a page the plugin did not build, enclosing compositions with a `data-start`
 * offset it, as before.
 */
function placement(video: Element, root: ParentNode): { offset: number; cap: number } {
  const resolved = video.hasAttribute("data-frame-start");
  const above: Element[] = [];
  for (let el = video.parentElement; el; el = el.parentElement) {
    above.unshift(el);
    if (el === root) break;
  }
  let offset = 0;
  let cap = Infinity;
  let mounted = false;
  for (const el of above) {
    if (!resolved) {
      const composed = el !== root && (el.hasAttribute("data-composition-src") || el.hasAttribute("data-composition-id"));
      if (composed) offset += Math.max(0, parseStrictNumber(el.getAttribute("data-start")) ?? 0);
      continue;
    }
    const host = el.hasAttribute("data-frame-start");
    const end = parseStrictNumber(el.getAttribute("data-frame-end"));
    // An entry's own end does not count where a host mounts it: the host's window does (as in HyperFrames).
    if (end !== undefined && (host || !mounted)) cap = Math.min(cap, offset + end);
    if (host) {
      offset += parseStrictNumber(el.getAttribute("data-frame-start")) ?? 0;
      mounted = true;
    }
  }
  return { offset, cap };
}

function syncDataAttributes(el: Element, attributes: Record<string, string>): void {
  for (const { name } of Array.from(el.attributes)) {
    if (name.startsWith("data-") && !(name in attributes)) el.removeAttribute(name);
  }
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("data-") && el.getAttribute(name) !== value) el.setAttribute(name, value);
  }
}
