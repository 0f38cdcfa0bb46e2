/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The API serves the built app at /, so every request is same-origin; in
// `npm run dev` the API paths are proxied to a local `omnix serve`.
// Node's `process`, declared here so the app's types need no @types/node.
declare const process: { env: Record<string, string | undefined> };
const api = process.env.OMNIX_API_URL ?? "http://127.0.0.1:3001";
const proxied = ["/v1", "/auth", "/health", "/openapi.json", "/api-docs"];

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      ...Object.fromEntries(proxied.map((path) => [path, api])),
      "/ws": { target: api.replace(/^http/, "ws"), ws: true },
    },
  },
  build: {
    outDir: "dist",
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
  },
});
