import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { rawRequest } from "./dev.js";

/** One HMR payload as Vite sends it: `connected`, `update`, `full-reload`, `custom` (with `event`, `data`)… */
export interface HmrMessage {
  type: string;
  event?: string;
  data?: unknown;
  [key: string]: unknown;
}

export interface HmrClient {
  /** Every payload received, in order. */
  messages: HmrMessage[];
  close: () => void;
}

/**
 * A client on Vite's HMR WebSocket, connected as the page's /@vite/client connects: it sees
 * what every Vite major sends, from outside the server. Hand-rolled because Node 20 has no
 * global WebSocket and the project does not depend on `ws`; it only reads, and Vite sends
 * each payload as one unmasked, unfragmented text frame.
 */
export async function connectHmr(origin: string): Promise<HmrClient> {
  // The token the page's client is served with (Vite ≥ 5.4.12); Vite checks it when an Origin header is sent.
  const client = (await rawRequest(origin, "/@vite/client")).body.toString("utf8");
  const token = /const wsToken = "([^"]*)"/.exec(client)?.[1] ?? "";
  const url = new URL(origin);
  const messages: HmrMessage[] = [];
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: `/?token=${encodeURIComponent(token)}`,
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        origin,
        "sec-websocket-key": randomBytes(16).toString("base64"),
        "sec-websocket-version": "13",
        "sec-websocket-protocol": "vite-hmr",
      },
    });
    req.on("response", (res) => reject(new Error(`HMR endpoint answered ${res.statusCode} instead of upgrading`)));
    req.on("error", reject);
    req.on("upgrade", (_res, socket, head) => {
      let buffer = Buffer.alloc(0);
      const receive = (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        for (;;) {
          if (buffer.length < 2) break;
          const opcode = buffer[0]! & 0x0f;
          let length = buffer[1]! & 0x7f;
          let offset = 2;
          if (length === 126) {
            if (buffer.length < 4) break;
            length = buffer.readUInt16BE(2);
            offset = 4;
          } else if (length === 127) {
            if (buffer.length < 10) break;
            length = Number(buffer.readBigUInt64BE(2));
            offset = 10;
          }
          if (buffer.length < offset + length) break;
          const payload = buffer.subarray(offset, offset + length);
          buffer = buffer.subarray(offset + length);
          if (opcode === 1) messages.push(JSON.parse(payload.toString("utf8")) as HmrMessage);
          else if (opcode === 8) socket.end();
        }
      };
      // The first payload (`connected`) may come with the upgrade response itself.
      receive(head);
      socket.on("data", receive);
      socket.on("error", () => {});
      resolve({ messages, close: () => socket.destroy() });
    });
    req.end();
  });
}
