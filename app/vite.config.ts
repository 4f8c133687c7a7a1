import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

/** Where `vite` (the dev server) sends the API calls; the built page calls its own origin. */
const api = process.env.DIALTONE_URL ?? 'http://localhost:8080';
const API_PREFIXES = ['/api', '/phone-endpoints', '/agents', '/v1.0', '/auth', '/sip', '/tenants', '/calls', '/events'];

// Served by the API process under /app/ (src/http/dashboard.ts), so every asset URL starts there.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/app/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: { proxy: Object.fromEntries(API_PREFIXES.map((p) => [p, { target: api, ws: p === '/events' }])) },
  logLevel: 'warn',
});
