import { parse, type DefaultTreeAdapterTypes as T } from "parse5";

export type Element = T.Element;

/** Every element in document order, `<template>` contents included; iterative, so depth cannot overflow the stack. */
export function elementsOf(html: string): Element[] {
  const document = parse(html, { sourceCodeLocationInfo: true });
  const out: Element[] = [];
  const stack: T.ChildNode[] = [...document.childNodes].reverse();
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (!("tagName" in node)) continue;
    out.push(node);
    // A <template> inside <svg> or <math> is foreign content and has no fragment.
    const content = node.tagName === "template" ? (node as T.Template).content : undefined;
    const children = content ? [...content.childNodes, ...node.childNodes] : node.childNodes;
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return out;
}

export function attr(el: Element, name: string): string | undefined {
  return el.attrs.find((a) => a.name === name)?.value;
}

export function textOf(el: Element): string {
  return el.childNodes.map((n) => ("value" in n && n.nodeName === "#text" ? n.value : "")).join("");
}

/** 1-based position of an element's start tag, or of one of its attributes when given. */
export function positionOf(el: Element, attrName?: string): { line: number; column: number } {
  const loc = el.sourceCodeLocation;
  const at = (attrName && loc?.attrs?.[attrName]) || loc?.startTag || loc;
  return { line: at?.startLine ?? 1, column: at?.startCol ?? 1 };
}

/** The entry root: `[data-composition-id][data-root="true"]`, else the outermost `[data-composition-id]`. */
export function rootComposition(elements: Element[]): Element | undefined {
  const compositions = elements.filter((el) => attr(el, "data-composition-id") !== undefined);
  return compositions.find((el) => attr(el, "data-root") === "true") ?? compositions[0];
}

/** An element that mounts another composition file, as the scanner counts hosts. */
export function isHost(el: Element): boolean {
  return !!attr(el, "data-composition-src")?.trim();
}

/** Attributes to set: on the n-th `<video>`, on the n-th host, and on the entry root. */
export interface AttributeEdits {
  videos?: ReadonlyMap<number, Record<string, string>>;
  hosts?: ReadonlyMap<number, Record<string, string>>;
  root?: Record<string, string>;
}

/** Set attributes on the n-th `<video>` elements of a document (see setAttributes). */
export function setVideoAttributes(html: string, edits: ReadonlyMap<number, Record<string, string>>): string {
  return setAttributes(html, { videos: edits });
}

/** Where an element's start tag and attributes are in its document's text. */
export type TagSite = NonNullable<Element["sourceCodeLocation"]>;

/**
 * Where the elements setAttributes can edit are: the `<video>`s and the hosts in document order,
 * and the entry root. Kept from a scan, so a rewrite of the same text need not parse it again.
 */
export interface EditSites {
  videos: readonly (TagSite | undefined)[];
  hosts: readonly (TagSite | undefined)[];
  root?: TagSite;
}

export function editSites(elements: Element[]): EditSites {
  return {
    videos: elements.filter((el) => el.tagName === "video").map((el) => el.sourceCodeLocation ?? undefined),
    hosts: elements.filter(isHost).map((el) => el.sourceCodeLocation ?? undefined),
    root: rootComposition(elements)?.sourceCodeLocation ?? undefined,
  };
}

/**
 * Set attributes on elements of a document, changing nothing else in the text: existing values
 * are replaced in place, new ones are added at the end of the start tag. `sites` must come from
 * this very text (a scan of it); without them it is parsed.
 */
export function setAttributes(html: string, edits: AttributeEdits, sites?: EditSites): string {
  if (!edits.videos?.size && !edits.hosts?.size && !Object.keys(edits.root ?? {}).length) return html;
  const at = sites ?? editSites(elementsOf(html));
  const splices: { start: number; end: number; text: string }[] = [];
  // An element that is a host and a video, or the root and a host, takes every edit of it.
  const merged = new Map<TagSite, Record<string, string>>();
  const add = (site: TagSite | undefined, attrs: Record<string, string> | undefined) => {
    if (site && attrs) merged.set(site, { ...merged.get(site), ...attrs });
  };
  at.videos.forEach((site, i) => add(site, edits.videos?.get(i)));
  at.hosts.forEach((site, i) => add(site, edits.hosts?.get(i)));
  add(at.root, edits.root);
  for (const [site, attrs] of merged) {
    const tag = site.startTag;
    if (!tag) continue;
    let appended = "";
    for (const [name, value] of Object.entries(attrs)) {
      const text = `${name}="${escapeAttribute(value)}"`;
      const existing = site.attrs?.[name];
      if (existing) splices.push({ start: existing.startOffset, end: existing.endOffset, text });
      else appended += ` ${text}`;
    }
    if (appended) {
      // A `/` before `>` closes the tag, unless it ends an unquoted value (`src=a/`), whose text it is.
      const lastAttrEnd = Math.max(0, ...Object.values(site.attrs ?? {}).map((a) => a.endOffset));
      const selfClosing = html[tag.endOffset - 2] === "/" && lastAttrEnd !== tag.endOffset - 1;
      const close = selfClosing ? tag.endOffset - 2 : tag.endOffset - 1;
      splices.push({ start: close, end: close, text: appended });
    }
  }
  splices.sort((a, b) => b.start - a.start);
  let out = html;
  for (const s of splices) out = out.slice(0, s.start) + s.text + out.slice(s.end);
  return out;
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
}

/** The attributes of every `<video>` start tag, in document order (`<template>` contents included). */
export function videoAttributes(html: string): Record<string, string>[] {
  return elementsOf(html)
    .filter((el) => el.tagName === "video")
    .map((el) => Object.fromEntries(el.attrs.map((a) => [a.name, a.value])));
}

/**
 * The document with every `<video>` start tag reduced to `<video>`: two versions
 * with the same skeleton differ only in video attributes, which a page can apply
 * without reloading.
 */
export function videoSkeleton(html: string): string {
  const tags = elementsOf(html)
    .filter((el) => el.tagName === "video")
    .map((el) => el.sourceCodeLocation?.startTag)
    .filter((tag) => tag !== undefined)
    .sort((a, b) => b.startOffset - a.startOffset);
  let out = html;
  for (const tag of tags) out = out.slice(0, tag.startOffset) + "<video>" + out.slice(tag.endOffset);
  return out;
}
