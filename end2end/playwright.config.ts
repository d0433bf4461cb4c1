import { defineConfig } from '@playwright/test';
import { readdirSync } from 'node:fs';

// WireMock's standalone jar, as the npm package ships it.
const wiremockJar = `node_modules/wiremock/build/${readdirSync('node_modules/wiremock/build').find((f) => f.endsWith('.jar'))}`;

// Every spec runs twice: hydrated, and with JavaScript disabled (the pages must work before
// hydration). Each project gets its own server on a fresh SQLite database, so both start
// from a fresh install.
const chromium = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
};

const server = (port: number) => ({
  command: `bash scripts/e2e-server.sh ${port}`,
  cwd: '..',
  url: `http://127.0.0.1:${port}/healthz`,
  reuseExistingServer: false,
  timeout: 60_000,
  stdout: 'ignore' as const,
  stderr: 'pipe' as const,
});

export default defineConfig({
  testDir: './tests',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  timeout: 30_000,
  expect: { timeout: 10_000 },
  use: { launchOptions: chromium, trace: 'retain-on-failure' },
  projects: [
    { name: 'hydrated', use: { baseURL: 'http://127.0.0.1:3101', javaScriptEnabled: true } },
    { name: 'no-js', use: { baseURL: 'http://127.0.0.1:3102', javaScriptEnabled: false } },
  ],
  webServer: [
    server(3101),
    server(3102),
    // An independent fake Twilio (WireMock's standalone jar from npm) on loopback.
    {
      command: `java -jar ${wiremockJar} --port 3199 --bind-address 127.0.0.1 --disable-banner`,
      url: 'http://127.0.0.1:3199/__admin/health',
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore' as const,
      stderr: 'pipe' as const,
    },
  ],
});
