import { defineConfig } from "vite";
import framecache from "vite-plugin-framecache";

export default defineConfig({
  plugins: [framecache()],
});
