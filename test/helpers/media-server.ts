import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { readFileSync, statSync } from "node:fs";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/** How the server misbehaves for one path; `once` ones behave after their first request. */
export type Fault =
  | { kind: "status"; status: number }
  | { kind: "reset-once" }
  | { kind: "error-once"; status: number }
  /** Cut the body after `bytes`: once (then resumable), or `always` (and without ranges). */
  | { kind: "truncate"; bytes: number; always?: boolean; ranges?: false }
  | { kind: "stall"; bytes: number }
  | { kind: "redirect"; to: string }
  | { kind: "weak-etag" }
  | { kind: "no-validators" }
  | { kind: "no-ranges" }
  /** A private bucket: 403 unless the request carries this header with this value. */
  | { kind: "auth"; header: string; value: string }
  /** Answer every request this much later, as a far server does. */
  | { kind: "slow"; ms: number };

export interface LoggedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  status: number;
  /** Body bytes sent. */
  bytes: number;
}

export interface MediaServer {
  url: string;
  /** Every request, in order. */
  log: LoggedRequest[];
  /** Serve `path` (`/a.mp4`) from a file; its ETag and Last-Modified follow the file's bytes and mtime. */
  serve(path: string, file: string): void;
  fault(path: string, fault: Fault | undefined): void;
  /** GETs of `path` that sent body bytes. */
  downloads(path?: string): LoggedRequest[];
  bytesSent(path?: string): number;
  stop(): Promise<void>;
}

/**
 * A real HTTP(S) server on 127.0.0.1 that serves media files as a bucket or CDN does: strong
 * ETags, Last-Modified, conditional GETs, `Range` with `If-Range`; and can misbehave on request.
 */
export async function startMediaServer(options: { tls?: { key: string; cert: string } } = {}): Promise<MediaServer> {
  const files = new Map<string, string>();
  const faults = new Map<string, Fault>();
  const used = new Set<string>();
  const log: LoggedRequest[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    // Logged as it arrives, answered when the server is ready to.
    const entry: LoggedRequest = { method: req.method ?? "GET", path, headers: req.headers, status: 0, bytes: 0 };
    log.push(entry);
    const slow = faults.get(path);
    if (slow?.kind === "slow") return void setTimeout(() => respond(req, res, path, entry), slow.ms);
    respond(req, res, path, entry);
  };
  const respond = (req: IncomingMessage, res: ServerResponse, path: string, entry: LoggedRequest) => {
    const send = (status: number, headers: Record<string, string | number> = {}, body?: Buffer) => {
      entry.status = status;
      res.writeHead(status, headers);
      if (body && req.method !== "HEAD") {
        entry.bytes += body.length;
        res.end(body);
      } else res.end();
    };
    const fault = faults.get(path);
    const first = !used.has(path);
    used.add(path);
    if (fault?.kind === "status") return send(fault.status, {}, Buffer.from("nope"));
    if (fault?.kind === "auth" && req.headers[fault.header.toLowerCase()] !== fault.value) return send(403, {}, Buffer.from("denied"));
    if (fault?.kind === "redirect") return send(302, { location: fault.to });
    if (fault?.kind === "reset-once" && first) return void req.socket.destroy();
    if (fault?.kind === "error-once" && first) return send(fault.status, {}, Buffer.from("busy"));
    const file = files.get(path);
    if (!file) return send(404, {}, Buffer.from("not found"));
    const bytes = readFileSync(file);
    const mtime = new Date(Math.floor(statSync(file).mtimeMs / 1000) * 1000);
    const strong = `"${createHash("sha1").update(bytes).digest("hex")}"`;
    const etag = fault?.kind === "weak-etag" ? `W/${strong}` : strong;
    const headers: Record<string, string | number> = { "content-type": "video/mp4" };
    if (fault?.kind !== "no-validators") Object.assign(headers, { etag, "last-modified": mtime.toUTCString() });
    // A server that always cuts the body cannot be resumed either, or the cut would be repaired.
    const ranges = fault?.kind !== "no-ranges" && !(fault?.kind === "truncate" && (fault.always || fault.ranges === false));
    if (ranges) headers["accept-ranges"] = "bytes";
    const inm = req.headers["if-none-match"];
    if (fault?.kind !== "no-validators" && inm && inm === etag) return send(304, headers);
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const ifRange = req.headers["if-range"];
    if (range && ranges && (!ifRange || ifRange === etag || ifRange === headers["last-modified"])) {
      const from = Number(range[1]);
      const rest = bytes.subarray(from);
      return send(206, { ...headers, "content-length": rest.length, "content-range": `bytes ${from}-${bytes.length - 1}/${bytes.length}` }, rest);
    }
    if ((fault?.kind === "truncate" && (first || fault.always)) || fault?.kind === "stall") {
      entry.status = 200;
      res.writeHead(200, { ...headers, "content-length": bytes.length });
      res.write(bytes.subarray(0, fault.bytes));
      entry.bytes += fault.bytes;
      // A truncation cuts the connection; a stall holds it open and sends nothing more.
      if (fault.kind === "truncate") setTimeout(() => req.socket.destroy(), 50);
      return;
    }
    send(200, { ...headers, "content-length": bytes.length }, bytes);
  };
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const url = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;
  const gets = (path?: string) => log.filter((r) => r.method === "GET" && r.bytes > 0 && (path === undefined || r.path === path));
  return {
    url,
    log,
    serve: (path, file) => void files.set(path, file),
    fault: (path, fault) => void (fault ? faults.set(path, fault) : faults.delete(path)),
    downloads: gets,
    bytesSent: (path) => log.filter((r) => path === undefined || r.path === path).reduce((n, r) => n + r.bytes, 0),
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, "close").catch(() => undefined);
    },
  };
}

/**
 * A self-signed certificate for 127.0.0.1, made with openssl into `dir`: Node refuses it, unless
 * a process starts with it in NODE_EXTRA_CA_CERTS (`certFile`).
 */
export function selfSignedCert(dir: string, name = "tls"): { key: string; cert: string; certFile: string } {
  const key = join(dir, `${name}-key.pem`);
  const cert = join(dir, `${name}-cert.pem`);
  const args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"];
  execFileSync("openssl", args, { stdio: "ignore" });
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8"), certFile: cert };
}
