import { readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compositionProject, extractProject } from "./helpers/extract.js";
import { makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { startMediaServer, type MediaServer } from "./helpers/media-server.js";
import { downloadsDir, listDownloads, recordPath } from "../src/store/downloads/records.js";
import { removeListed } from "../src/store/downloads/upkeep.js";
import { tryLock } from "../src/store/lock.js";

const CLI = join(__dirname, "../dist/cli.js");
const tmp = tempDir("framecache-downloads-");
let media: MediaServer;
let clip: string;

beforeAll(async () => {
  clip = makeCodedVideo(join(tmp.dir, "clip.mp4"), { seconds: 1 });
  media = await startMediaServer();
  media.serve("/clip.mp4", clip);
});
afterAll(async () => {
  await media.stop();
  tmp.cleanup();
});

const cli = (root: string, ...args: string[]) => execa("node", [CLI, ...args, "--cache-dir", "cache"], { cwd: root, reject: false });

describe("downloads in the store's commands", () => {
  it("ls lists them with their URL (redacted) and size; verify checks their digest, --fix removes a bad one, and the next run downloads it again", async () => {
    const root = compositionProject(join(tmp.dir, "ls"), `<video id="v" src="${media.url}/clip.mp4?token=hush" data-duration="1"></video>`);
    expect((await extractProject(root)).errors).toEqual([]);
    const size = readFileSync(clip).length;

    const ls = await cli(root, "ls", "--json");
    const listed = JSON.parse(ls.stdout) as { downloads: { url: string; size: number; local: boolean }[] };
    expect(listed.downloads).toEqual([expect.objectContaining({ url: `${media.url}/clip.mp4?REDACTED`, size, local: true })]);
    const table = await cli(root, "ls");
    expect(table.stdout).toMatch(/DOWNLOAD\s+SIZE\s+LAST USED\s+STATE/);
    expect(table.stdout).toContain(`${media.url}/clip.mp4?REDACTED`);
    expect(`${ls.stdout}${table.stdout}${readdirSync(join(root, "cache/downloads")).join(" ")}`).not.toContain("hush");

    const clean = await cli(root, "verify");
    expect(clean.exitCode).toBe(0);
    expect(clean.stdout).toContain("1 download checked, 0 bad");

    // One byte changed in place: the digest taken as it arrived no longer matches.
    const downloaded = join(root, "cache/downloads", readdirSync(join(root, "cache/downloads")).find((n) => n.endsWith(".mp4"))!);
    const bytes = readFileSync(downloaded);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 10) ^ 0xff, bytes.length - 10);
    writeFileSync(downloaded, bytes);
    const bad = await cli(root, "verify");
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toMatch(/bad\s+downloads\/[0-9a-f]{32}-[0-9a-f]{16}\.mp4\s+\[downloads\] the bytes differ from the digest/);
    const fixed = await cli(root, "verify", "--fix");
    expect(fixed.exitCode).toBe(0);
    expect((await cli(root, "verify")).exitCode).toBe(0);

    const mark = media.log.length;
    const again = await extractProject(root, { remoteSources: { freshFor: 0 } });
    expect(again.errors).toEqual([]);
    expect(media.downloads().filter((r) => media.log.indexOf(r) >= mark)).toHaveLength(1);
    expect(readFrameNumbers(again.ids.v!.dir)).toEqual(range(0, 30));
  });

  it("gc evicts downloads not used for an hour while the store is over budget, and the entries made from them stay", async () => {
    const root = compositionProject(join(tmp.dir, "gc"), `<video id="v" src="${media.url}/clip.mp4" data-duration="0.5"></video>`);
    const first = await extractProject(root);
    expect(first.errors).toEqual([]);
    const downloads = join(root, "cache/downloads");
    const record = join(downloads, readdirSync(downloads).find((n) => n.endsWith(".json"))!);

    const recent = await cli(root, "gc", "--max-size", "1", "--json");
    expect(JSON.parse(recent.stdout).downloads).toMatchObject({ evicted: 0, spared: 1 });

    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(record, twoHoursAgo, twoHoursAgo);
    const kept = await cli(root, "gc", "--max-size", "100GB", "--json");
    expect(JSON.parse(kept.stdout).downloads).toMatchObject({ evicted: 0, kept: 1 });
    const gc = await cli(root, "gc", "--max-size", "1", "--json");
    const stats = JSON.parse(gc.stdout) as { downloads: { evicted: number; evictedDownloads: string[] } };
    expect(stats.downloads).toMatchObject({ evicted: 1, evictedDownloads: [`${media.url}/clip.mp4`] });
    expect(readdirSync(downloads)).toEqual([]);

    // The bytes come again, and with them the same digest: the entry is still a hit.
    const warm = await extractProject(root);
    expect(warm).toMatchObject({ extracted: 0, errors: [] });
    expect(warm.report.sourceDownloads).toBe(1);
  });
});

describe("a download removed while a run works on it", () => {
  it("is left alone while a run holds its URL's lock, or once its record changed or was used since it was listed", async () => {
    const root = compositionProject(join(tmp.dir, "race"), `<video id="v" src="${media.url}/clip.mp4" data-duration="0.5"></video>`);
    expect((await extractProject(root)).errors).toEqual([]);
    const store = join(root, "cache");
    const [listed] = await listDownloads(store);
    const lock = await tryLock(downloadsDir(store), listed!.id);
    expect(await removeListed(store, listed!)).toBe(false);
    await lock!.release();

    // Used by a run after the listing: its record's clock moved.
    const later = new Date(listed!.lastUsed + 5_000);
    utimesSync(recordPath(store, listed!.id), later, later);
    expect(await removeListed(store, listed!)).toBe(false);
    expect(readdirSync(downloadsDir(store)).sort()).toEqual(listed!.files.map((f) => f.name).sort());

    const [now] = await listDownloads(store);
    expect(await removeListed(store, now!)).toBe(true);
    expect(readdirSync(downloadsDir(store))).toEqual([]);
  });
});
