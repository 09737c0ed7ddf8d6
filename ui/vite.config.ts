import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// `npm run dev` serves the UI with hot reload and forwards API calls to a running gateway
// (SWITCHBOARD_URL, default http://127.0.0.1:4000). Log in once through the gateway's own link
// (`switchboard dashboard --print-url`, then open it with this dev server's host instead).
const gateway = process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:4000';

export default defineConfig({
  // Relative asset paths: the same build works at /ui/, under a reverse-proxy prefix and in
  // the tray's window.
  base: './',
  plugins: [svelte()],
  server: {
    proxy: {
      '/admin': { target: gateway, changeOrigin: true },
      '/v1': { target: gateway, changeOrigin: true },
      '/health': { target: gateway, changeOrigin: true },
    },
  },
  build: {
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 200,
  },
  test: {
    include: ['src/**/*.test.ts'],
  },
});
