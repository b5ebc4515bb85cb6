// Vite project for the Gatehouse web UI. `vite build web` (package.json) builds into web/dist,
// which the server serves at `/` with an SPA fallback (src/server/http.ts).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    // `npx vite web` during development: the API is on the running Gatehouse (default port 8440).
    proxy: { "/api": { target: "http://127.0.0.1:8440", ws: true } },
  },
});
