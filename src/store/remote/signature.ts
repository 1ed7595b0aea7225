import { createHmac, timingSafeEqual, type Hmac } from "node:crypto";

/**
 * Turborepo's artifact signature (crates/turborepo-cache/src/signature_authentication.rs):
 * HMAC-SHA256 keyed by the shared secret over the artifact hash's bytes, then the team id's
 * bytes (empty without one), then the artifact's bytes; sent as `x-artifact-tag` in standard
 * base64 with padding. Matching it byte for byte lets turbo and framecache share one secret.
 */
export const TAG_HEADER = "x-artifact-tag";

/** A running tag: feed it the artifact's bytes as they stream, then read `tag()` once. */
export class ArtifactSigner {
  private readonly hmac: Hmac;

  constructor(key: string, hash: string, team: string | undefined) {
    this.hmac = createHmac("sha256", key);
    this.hmac.update(hash, "utf8");
    this.hmac.update(team ?? "", "utf8");
  }

  update(chunk: Buffer): void {
    this.hmac.update(chunk);
  }

  tag(): string {
    return this.hmac.digest("base64");
  }

  /** Whether `expected` (a header as received) is this artifact's tag; constant time. */
  matches(expected: string | undefined): boolean {
    const actual = Buffer.from(this.tag(), "base64");
    const given = Buffer.from(expected ?? "", "base64");
    return given.length === actual.length && timingSafeEqual(given, actual);
  }
}
