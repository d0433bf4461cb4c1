import { APIRequestContext, expect, Page, TestInfo } from '@playwright/test';

export const ADMIN = { email: 'admin@shop.example', password: 'correct horse battery' };
export const MARKETER = { email: 'mia@shop.example', password: 'marketing all day long' };

export function jsEnabled(info: TestInfo): boolean {
  return info.project.use.javaScriptEnabled !== false;
}

/** Opens a page and, when JavaScript runs, waits for hydration (typing earlier would be lost). */
export async function open(page: Page, info: TestInfo, path: string) {
  await page.goto(path);
  if (jsEnabled(info)) {
    await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  }
}

export async function signIn(page: Page, info: TestInfo, who: { email: string; password: string }) {
  await open(page, info, '/login');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/distributions$/);
}

export async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
}

/** Creates the first admin unless the instance is set up already (specs can then run alone). */
export async function ensureSetUp(request: APIRequestContext) {
  const res = await request.post('/api/setup_admin', {
    headers: { Accept: 'application/json' },
    form: { email: ADMIN.email, password: ADMIN.password, password_confirm: ADMIN.password },
  });
  expect([200, 409]).toContain(res.status());
}
