/** The id a `<video>` carries itself: `data-hf-render-id`, else `id`. */
export function explicitVideoId(attribute: (name: string) => string | null | undefined): string | undefined {
  return attribute("data-hf-render-id") || attribute("id") || undefined;
}

/** A video's identity (DESIGN §3.1): its own id, else `hf-video-<n>` by its place in the document. */
export function videoId(attribute: (name: string) => string | null | undefined, index: number): string {
  return explicitVideoId(attribute) ?? `${GENERATED_ID_PREFIX}${index}`;
}

export const GENERATED_ID_PREFIX = "hf-video-";
