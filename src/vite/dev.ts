import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ErrorPayload, Plugin, ViteDevServer } from "vite";
import type { FramecacheError } from "../core/errors.js";
import { resolveCacheDir } from "../core/paths.js";
import { DevSession, UPDATE_EVENT } from "../pipeline/dev-session.js";
import { compositionRoots } from "./build.js";
import { hotChannel, htmlHotHooks } from "./compat.js";
import { crossSiteFramesGuard, framesMiddleware } from "./frames-middleware.js";
import { publicCompositions } from "./public-compositions.js";
import type { PluginContext } from "./context.js";
import type { PluginShared } from "./shared.js";

const CLIENT_ID = "virtual:framecache/hmr";
const RESOLVED_CLIENT_ID = "\0" + CLIENT_ID;

/**
 * Injected into composition pages in dev. It hands `framecache:update` to the page
 * as a cancelable DOM event: the runtime helper cancels it once applied; a page
 * without the runtime reloads. It accepts itself so that Vite can route an HTML
 * change to it instead of reloading the page (see htmlHotHooks).
 */
const CLIENT_CODE = `if (import.meta.hot) {
  import.meta.hot.accept();
  import.meta.hot.on(${JSON.stringify(UPDATE_EVENT)}, (update) => {
    const event = new CustomEvent(${JSON.stringify(UPDATE_EVENT)}, { detail: update, cancelable: true });
    if (window.dispatchEvent(event)) location.reload();
  });
}
`;

/** `vite dev`: frames served from the store, compositions rewritten to dev URLs, HMR on changes. */
export function devPlugin(shared: PluginShared): Plugin {
  let session: DevSession | undefined;
  return {
    name: "framecache:dev",
    apply: "serve",

    config(user) {
      // The store changes with every frame written; it is not a source to watch.
      const cacheDir = shared.options.cacheDir;
      if (!cacheDir) return;
      return { server: { watch: { ignored: [join(resolveCacheDir(resolve(user.root ?? process.cwd()), cacheDir), "**").replace(/\\/g, "/")] } } };
    },

    configureServer(server) {
      const hot = hotChannel(server);
      const context = shared.context;
      const run = shared.startRun(
        (engine) =>
          new DevSession(engine, {
            logger: context.logger,
            send: (update) => hot.send(UPDATE_EVENT, update),
            // Vite's error overlay; Vite keeps the last error for a page that connects later.
            error: (error) => hot.send({ type: "error", err: overlayError(error, context.root) }),
            watch: (file) => void server.watcher.add(file),
          }),
      );
      const current = run.dev!;
      session = current;
      server.middlewares.use(framesMiddleware(current));
      server.middlewares.use(crossSiteFramesGuard());
      server.middlewares.use(publicCompositions(current, context.publicDir));
      server.watcher.on("change", (file) => current.fileChanged(file));
      server.watcher.on("add", (file) => {
        current.fileChanged(file);
        // A composition added while serving is planned as those found at start were, when the globs or inputs name it.
        if (!file.endsWith(".html")) return;
        void devRoots(server, context)
          .then((roots) => (roots.includes(resolve(file)) ? current.warm([resolve(file)]) : undefined))
          .catch((error: unknown) => context.logger.warn(`framecache: ${(error as Error).message}`));
      });
      server.watcher.on("unlink", (file) => void (file.endsWith(".html") && current.compositionRemoved(resolve(file))));
      // Planned in the background: the server is up at once, and the frames are on their way before the first request.
      void devRoots(server, context)
        .then((roots) => current.warm(roots))
        .catch((error: unknown) => context.logger.warn(`framecache: ${(error as Error).message}`));
    },

    async buildEnd() {
      await session?.dispose();
    },

    resolveId(id) {
      return id === CLIENT_ID ? RESOLVED_CLIENT_ID : undefined;
    },

    load(id) {
      return id === RESOLVED_CLIENT_ID ? CLIENT_CODE : undefined;
    },

    transformIndexHtml: {
      order: "post",
      async handler(html, ctx) {
        if (!session || !ctx.server) return html;
        try {
          const page = await session.page(resolve(ctx.filename), html);
          if (page.videos === 0) return page.html;
          return { html: page.html, tags: [{ tag: "script", attrs: { type: "module", src: `${shared.context.base}@id/__x00__${CLIENT_ID}` }, injectTo: "head" }] };
        } catch (error) {
          shared.context.logger.warn(`framecache: ${ctx.filename}: ${(error as Error).message}`);
          return html;
        }
      },
    },

    // Vite reloads the page for any changed .html unless a JS module takes the update; the
    // client module accepts itself, so handing it over (returning true) avoids the reload.
    ...htmlHotHooks(RESOLVED_CLIENT_ID, async (file, read, hot) => {
      if (!session) return false;
      const outcome = await session.compositionChanged(resolve(file), await read());
      // A nested composition's own path matches no open page, so Vite alone would not reload it.
      if (outcome === "reload") hot.send({ type: "full-reload", path: "*" });
      return outcome === "update";
    }),
  };
}

/** Compositions to plan at start: the build's HTML inputs (else index.html) and the `compositions` globs. */
async function devRoots(server: ViteDevServer, context: PluginContext): Promise<string[]> {
  const build = server.config.build;
  const input = build.rolldownOptions?.input ?? build.rollupOptions?.input;
  const { html, globbed } = await compositionRoots(context.root, input, context.options.compositions);
  const index = join(context.root, "index.html");
  const inputs = html.length > 0 ? html : existsSync(index) ? [index] : [];
  return [...new Set([...inputs, ...globbed])];
}

/** A FramecacheError as Vite's error overlay shows it: message, code, and the composition's location. */
function overlayError(error: FramecacheError, root: string): ErrorPayload["err"] {
  return {
    message: error.message,
    stack: "",
    plugin: "framecache",
    pluginCode: error.code,
    id: error.loc && resolve(root, error.loc.file),
    loc: error.loc && { file: resolve(root, error.loc.file), line: error.loc.line, column: error.loc.column },
  };
}
