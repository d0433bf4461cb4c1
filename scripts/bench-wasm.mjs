// Times parse + render + count of the benchmark template inside the browser's WASM:
//   node scripts/bench-wasm.mjs [path/to/codecast]   (after `cargo leptos build --release`)
// Starts Codecast on a fresh SQLite database, signs in headless Chromium and runs the
// benchmark panel of /preview?bench.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../end2end/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const bin = process.argv[2] ?? join(process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, '.cache/codecast/target'), 'release/codecast');
const port = 3190;
const data = mkdtempSync(join(tmpdir(), 'codecast-bench-'));
const server = spawn(bin, ['serve'], {
  env: { ...process.env, CODECAST_ADDR: `127.0.0.1:${port}`, CODECAST_DATA_DIR: data, DATABASE_URL: `sqlite://${data}/c.db?mode=rwc`, CODECAST_LOG: 'warn', LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT ?? 'target/site' },
  stdio: 'inherit',
});
const base = `http://127.0.0.1:${port}`;
try {
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  const page = await browser.newPage();
  await page.goto(`${base}/setup`);
  await page.waitForSelector('body[data-hydrated]');
  await page.fill('#setup-email', 'bench@example.com');
  await page.fill('#setup-password', 'benchmark password');
  await page.fill('#setup-password-confirm', 'benchmark password');
  await page.click('button[type=submit]');
  await page.waitForURL('**/distributions');
  await page.goto(`${base}/preview?bench`);
  await page.waitForSelector('body[data-hydrated]');
  for (let round = 1; round <= 3; round++) {
    await page.click('text=Run in this browser');
    await page.waitForFunction((r) => document.querySelector('#bench-result')?.textContent?.startsWith(`run ${r}:`), round);
    console.log(await page.textContent('#bench-result'));
  }
  await browser.close();
} finally {
  server.kill();
  rmSync(data, { recursive: true, force: true });
}
