import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FramecacheError } from "../src/core/errors.js";
import { setAttributes, setVideoAttributes } from "../src/core/html.js";
import { scanComposition } from "../src/core/scan.js";

const attrNames = ["src", "data-start", "data-end", "data-duration", "data-media-start", "data-playback-start", "data-playback-rate", "data-fps", "id", "data-composition-src"];
const attrValue = fc.oneof(
  fc.string(),
  fc.double().map(String),
  fc.constantFrom("", " ", "NaN", "Infinity", "-0", "1e309", "0x10", "1_000", "30000/1001", "../../x.mp4", "%2e%2e/x", "data:,", "\u0000", "\"'<>&"),
);
const element: fc.Arbitrary<string> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small" },
    fc.string(),
    fc.tuple(fc.constantFrom("video", "source", "template", "div", "script", "svg", "math", "table", "p"), fc.array(fc.tuple(fc.constantFrom(...attrNames), attrValue), { maxLength: 5 }), fc.array(tie("node"), { maxLength: 4 }), fc.boolean()).map(
      ([tag, attrs, children, close]) =>
        `<${tag}${attrs.map(([n, v]) => ` ${n}="${v.replace(/"/g, "&quot;")}"`).join("")}>${children.join("")}${close ? `</${tag}>` : ""}`,
    ),
  ),
})).node;

describe("scanner under random input", () => {
  it("never throws anything but a FramecacheError on random and malformed HTML", () => {
    fc.assert(
      fc.property(fc.oneof(element, fc.string(), fc.array(element).map((a) => a.join(""))), (html) => {
        try {
          const scan = scanComposition(html, "fuzz.html");
          for (const v of scan.videos) {
            expect(Number.isFinite(v.start) && v.start >= 0).toBe(true);
            expect(v.end === undefined || Number.isFinite(v.end)).toBe(true);
            expect(v.playbackRate >= 0.1 && v.playbackRate <= 5).toBe(true);
            expect(v.loc.line >= 1 && v.loc.column >= 1).toBe(true);
          }
        } catch (error) {
          if (!(error instanceof FramecacheError)) throw error;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("rewrites only the targeted videos: every other byte stays as written", () => {
    fc.assert(
      fc.property(fc.array(element, { maxLength: 6 }), (parts) => {
        const html = parts.join("");
        const count = scanComposition(html, "f.html").videos.length;
        const edits = new Map(Array.from({ length: count }, (_, i) => [i, { "data-frame-count": String(i) }] as const));
        const out = setVideoAttributes(html, edits);
        expect(out.replace(/ ?data-frame-count="\d+"/g, "")).toBe(html.replace(/ ?data-frame-count="[^"]*"/g, ""));
      }),
      { numRuns: 500 },
    );
  });

  it("a rewrite through the scan's sites is the rewrite that parses the text again, videos, hosts and root alike", () => {
    fc.assert(
      fc.property(fc.array(element, { maxLength: 6 }), (parts) => {
        const html = `<div data-composition-id="r">${parts.join("")}</div>`;
        const scan = scanComposition(html, "f.html");
        const edits = {
          videos: new Map(scan.sites.videos.map((_, i) => [i, { "data-frame-count": String(i), src: "x" }] as const)),
          hosts: new Map(scan.sites.hosts.map((_, i) => [i, { "data-start": String(i) }] as const)),
          root: { "data-duration": "2" },
        };
        const out = setAttributes(html, edits, scan.sites);
        expect(out).toBe(setAttributes(html, edits));
        expect(out).not.toBe(html);
      }),
      { numRuns: 500 },
    );
  });

  it("pathological attribute values: huge, tiny, long and odd numbers give finite times or a warning at the attribute", () => {
    const timing = ["data-start", "data-end", "data-duration", "data-media-start", "data-playback-start", "data-playback-rate"];
    const extreme = fc.oneof(
      fc.constantFrom("1e308", "-1e308", "1.7976931348623157e308", "1e-400", "5e-324", "9007199254740993", "1e10", "0x1p3", "1n", "+1", "1.", ".5", "1e", "\t1\n"),
      fc.integer({ min: 1, max: 5000 }).map((n) => "9".repeat(n)),
      fc.integer({ min: 1, max: 5000 }).map((n) => `0.${"0".repeat(n)}1`),
      fc.integer({ min: 1, max: 5000 }).map((n) => " ".repeat(n) + "1" + " ".repeat(n)),
      fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.bigInt({ min: 0n, max: 10n ** 30n })).map(([a, b]) => `${a}/${b}`),
    );
    fc.assert(
      fc.property(fc.constantFrom(...timing, "data-fps"), extreme, (name, value) => {
        const html = `<div data-fps="${name === "data-fps" ? value : 30}">\n  <video id="v" src="a.mp4" ${name === "data-fps" ? "" : `${name}="${value}"`}></video></div>`;
        const scan = scanComposition(html, "p.html");
        const v = scan.videos[0]!;
        for (const t of [v.start, v.end ?? 0, v.mediaStart]) expect(Number.isSafeInteger(t) && t >= 0, `${name}="${value.slice(0, 30)}"`).toBe(true);
        expect(v.playbackRate >= 0.1 && v.playbackRate <= 5).toBe(true);
        if (scan.fps) {
          expect(Number.isSafeInteger(scan.fps.num) && Number.isSafeInteger(scan.fps.den)).toBe(true);
          expect(scan.fps.num / scan.fps.den <= 1000).toBe(true);
        }
        for (const w of scan.warnings) {
          expect(w.loc.line).toBeGreaterThanOrEqual(1);
          // A long value is shortened in the message, so a warning stays one readable line.
          expect(w.message.length).toBeLessThan(300);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("does not hang on megabyte attribute values or a megabyte of one attribute after another", () => {
    const huge = "9".repeat(1 << 20);
    const scan = scanComposition(`<div data-fps="${huge}/${huge}"><video src="a.mp4" data-start="${huge}" data-duration="0.${huge}" data-playback-rate="${" ".repeat(1 << 20)}"></video></div>`, "h.html");
    expect(scan.videos).toHaveLength(1);
    expect(scan.fps).toBeUndefined();
    expect(scan.warnings.map((w) => w.code)).toEqual(["FC_BAD_ATTRIBUTE", "FC_BAD_ATTRIBUTE"]);
    const many = `<video src="a.mp4"${' data-start="x"'.repeat(70_000)}></video>`;
    expect(scanComposition(many, "m.html").videos).toHaveLength(1);
  }, 60_000);

  it("scans a very large composition in linear time, without hanging", () => {
    const html = `<div data-fps="30">${'<video src="a.mp4" data-start="1" data-duration="2"></video>'.repeat(20_000)}</div>`;
    const scan = scanComposition(html, "big.html");
    expect(scan.videos).toHaveLength(20_000);
    const deep = `${"<div>".repeat(50_000)}<video src="a.mp4"></video>`;
    expect(scanComposition(deep, "deep.html").videos).toHaveLength(1);
  });
});
