/**
 * A real browser for the dashboard tests: Debian's Chromium driven by playwright-core, each run in
 * a fresh profile, with every console error and uncaught page error collected for the test to
 * assert on, and screenshots written to test-artifacts/ (gitignored).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { DASHBOARD_DIR } from '../../src/http/dashboard.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ARTIFACTS = join(ROOT, 'test-artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Builds the dashboard when the install step has not (a fresh checkout without `npm install`). */
export function ensureDashboardBuilt(): void {
  if (existsSync(join(DASHBOARD_DIR, 'index.html'))) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', join(ROOT, 'app/vite.config.ts')], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`building the dashboard failed: ${r.stderr || r.stdout}`);
}

export interface Browser {
  page: Page;
  /** Console errors and uncaught exceptions seen on any page so far. */
  errors: string[];
  /**
   * For a step that makes the server refuse on purpose: every error logged since the last call
   * must match `expected` (Chromium logs each refused request as a console error), and at least
   * one must have been logged; they are then forgotten.
   */
  expectOnly(expected: RegExp): void;
  newPage(): Promise<Page>;
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(artifactDir: string): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: scripts/ensure-peers.sh installs Debian's chromium package`);
  const profile = mkdtempSync(join(tmpdir(), 'dialtone-chromium-'));
  const shots = join(ARTIFACTS, artifactDir);
  mkdirSync(shots, { recursive: true });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      // Without the background-networking flags Chromium keeps dialling out, and this machine's network refuses it.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const errors: string[] = [];
  const watch = (p: Page) => {
    p.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
    p.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  };
  context.on('page', watch);
  const page = context.pages()[0] ?? await context.newPage();
  watch(page);
  return {
    page,
    errors,
    expectOnly(expected) {
      const seen = errors.splice(0);
      if (seen.length === 0) throw new Error(`expected a console error matching ${expected}, saw none`);
      const other = seen.filter((e) => !expected.test(e));
      if (other.length) throw new Error(`unexpected console errors: ${other.join('\n')}`);
    },
    async newPage() { return context.newPage(); },
    async screenshot(p, name) {
      const file = join(shots, `${name}.png`);
      await p.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
