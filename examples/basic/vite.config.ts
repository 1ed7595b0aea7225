import { defineConfig } from "vite";
import framecache from "vite-plugin-framecache";

export default defineConfig({
  plugins: [framecache()],
  build: {
    // The composition, and a scrubber page that previews it frame by frame.
    rollupOptions: { input: { main: "index.html", scrubber: "scrubber.html" } },
  },
});
