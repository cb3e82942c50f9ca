/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The console is served by `donatello serve` at `/` and calls the API at `/api` on the
// same origin; `npm run dev` proxies `/api` and `/dev` to a running host.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
  server: {
    proxy: { "/api": "http://127.0.0.1:7071", "/dev": "http://127.0.0.1:7071" },
  },
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"], pool: "vmThreads" },
});
