import type { NormalizedHotChannel, Plugin, ViteDevServer } from "vite";

/*
 * Everything the dev plugin does differently across the Vite majors it supports (5.4 to 8).
 * Vite 6 moved HMR into environments: `server.environments.client.hot` and the `hotUpdate`
 * hook (with `this.environment`). Vite 5 has neither, only `server.hot` and `handleHotUpdate`.
 * The types are Vite 8's; what Vite 5 lacks is reached through the `Legacy` shape below.
 */

/** The channel to the browsers: `send(payload)` and `send(event, data)`, on every major. */
export type HotSend = Pick<NormalizedHotChannel, "send">;

/** A dev server as Vite 5 built it: no environments, its HMR channel on `server.hot`. */
interface Legacy {
  environments?: { client?: { hot: HotSend } };
  hot?: HotSend;
}

/** The client's HMR channel: Vite 6+'s client environment, else Vite 5's `server.hot`. */
export function hotChannel(server: ViteDevServer): HotSend {
  const legacy = server as unknown as Legacy;
  // Read `server.hot` only when there are no environments: Vite 6+ keeps it as a deprecated alias.
  return legacy.environments?.client?.hot ?? legacy.hot!;
}

/** Vite 6 and later: the server runs environments (and calls `hotUpdate`). */
function hasEnvironments(server: ViteDevServer): boolean {
  return (server as unknown as Legacy).environments !== undefined;
}

/**
 * Called once per change of an `.html` file in the client. Resolves to true when the page's
 * HMR module (`clientId`) should take the update, so that Vite does not reload the page.
 */
export type HtmlChanged = (file: string, read: () => string | Promise<string>, hot: HotSend) => Promise<boolean>;

/**
 * Both HMR hooks around one handler: `hotUpdate` for Vite 6+, `handleHotUpdate` for Vite 5.
 * Vite 6, 7 and 8 call `handleHotUpdate` only for a plugin without `hotUpdate` (their
 * handleHMRUpdate: `if (plugin.hotUpdate) … else if (type === "update") handleHotUpdate`),
 * so the handler runs once per change; the environments check keeps it so should a later
 * Vite call both.
 */
export function htmlHotHooks(clientId: string, changed: HtmlChanged): Pick<Plugin, "hotUpdate" | "handleHotUpdate"> {
  return {
    async hotUpdate({ type, file, read }) {
      if (this.environment.name !== "client" || type !== "update" || !file.endsWith(".html")) return;
      if (!(await changed(file, read, this.environment.hot))) return;
      const client = this.environment.moduleGraph.getModuleById(clientId);
      return client ? [client] : undefined;
    },

    // Vite 5 calls it for updates only (not for created or deleted files), in the client alone.
    async handleHotUpdate({ file, read, server }) {
      if (hasEnvironments(server) || !file.endsWith(".html")) return;
      if (!(await changed(file, read, hotChannel(server)))) return;
      const client = server.moduleGraph.getModuleById(clientId);
      return client ? [client] : undefined;
    },
  };
}

/**
 * Rolldown (Vite 8, and rolldown-vite) runs the build; Rollup (Vite 5 to 7) does not know
 * Rolldown's options and warns "Unknown input options" for each one it is given.
 */
export function isRolldown(meta: object): boolean {
  return "rolldownVersion" in meta;
}

/** Rolldown, or Rollup from 4.35 (rollup#5867): a failing buildEnd still reaches closeBundle. */
export function closesAfterFailedBuildEnd(meta: { rollupVersion?: string }): boolean {
  const [major = 0, minor = 0] = (meta.rollupVersion ?? "").split(".").map(Number);
  return isRolldown(meta) || major > 4 || (major === 4 && minor >= 35);
}

/**
 * Vite's own check of server.fs (deny, allow, strict) for a file a dev page asks for.
 * Vite 6+ exports it taking the resolved config, Vite 5.4 taking the dev server (it reads the
 * server's deny matcher). Imported when a dev server asks, as plain Rollup has no Vite to import.
 */
export async function fileLoadingAllowed(server: ViteDevServer, file: string): Promise<boolean> {
  const { isFileLoadingAllowed } = (await import("vite")) as Partial<typeof import("vite")>;
  if (!isFileLoadingAllowed) return true;
  if (hasEnvironments(server)) return isFileLoadingAllowed(server.config, file);
  return (isFileLoadingAllowed as unknown as (server: ViteDevServer, file: string) => boolean)(server, file);
}
