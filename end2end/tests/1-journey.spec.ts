import { expect, test } from '@playwright/test';
import { ADMIN, MARKETER, jsEnabled, open, signIn, signOut } from './helpers';

// One fresh install per project, walked through in order: setup → sign-in → navigation →
// team management → role restrictions.
test.describe.configure({ mode: 'serial' });

test('a fresh install asks for the first admin and checks the form', async ({ page }, info) => {
  await page.goto('/distributions');
  await expect(page).toHaveURL(/\/setup$/);
  await open(page, info, '/setup');
  await expect(page.getByRole('heading', { name: 'Set up Codecast' })).toBeVisible();

  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByLabel('Repeat password').fill('something else entirely');
  await page.getByRole('button', { name: 'Create admin account' }).click();
  await expect(page.getByText('The passwords do not match.')).toBeVisible();
  await expect(page.getByLabel('Repeat password')).toHaveAttribute('aria-invalid', 'true');

  await open(page, info, '/setup');
  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByLabel('Repeat password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Create admin account' }).click();
  await expect(page).toHaveURL(/\/distributions$/);
  await expect(page.getByRole('heading', { name: 'Distributions', level: 1 })).toBeVisible();
  await expect(page.getByText(ADMIN.email)).toBeVisible();
});

test('setup is gone once done, and a wrong password is refused', async ({ page }, info) => {
  await page.goto('/setup');
  await expect(page).toHaveURL(/\/login$/);
  await open(page, info, '/login');
  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('do not match an account');
});

test('an admin signs in and finds every area', async ({ page }, info) => {
  await page.goto('/customers');
  await expect(page).toHaveURL(/\/login\?next=/);
  await signIn(page, info, ADMIN);

  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const [link, heading, empty] of [
    ['Campaigns', 'Campaigns', 'No campaigns yet'],
    ['Customers', 'Customers', 'No customers yet'],
    ['Segments', 'Segments', 'No segments yet'],
    ['Integrations', 'Integrations', 'No SMS provider connected'],
    ['Settings', 'Settings', 'Users'],
    ['Distributions', 'Distributions', 'No distributions yet'],
  ]) {
    await nav.getByRole('link', { name: link }).click();
    await expect(page.getByRole('heading', { name: heading, level: 1 })).toBeVisible();
    await expect(page.getByRole('heading', { name: empty })).toBeVisible();
    await expect(nav.getByRole('link', { name: link })).toHaveAttribute('aria-current', 'page');
  }
});

test('an admin adds a marketer in Settings', async ({ page }, info) => {
  await signIn(page, info, ADMIN);
  await open(page, info, '/settings');
  const form = page.locator('form', { has: page.getByRole('button', { name: 'Add user' }) });
  // The server's own check (the browser's cannot know who exists), shown beside the field.
  await form.getByLabel('Email').fill(ADMIN.email);
  await form.getByLabel('Initial password').fill(MARKETER.password);
  await form.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByText('A user with this email already exists.')).toBeVisible();
  await expect(form.getByLabel('Email')).toHaveAttribute('aria-invalid', 'true');

  if (!jsEnabled(info)) await open(page, info, '/settings');
  await form.getByLabel('Email').fill(MARKETER.email);
  await form.getByLabel('Role').selectOption('marketer');
  await form.getByLabel('Initial password').fill(MARKETER.password);
  await form.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByRole('cell', { name: MARKETER.email, exact: true })).toBeVisible();
  await signOut(page);
});

test('a marketer sees no admin areas and is refused them', async ({ page }, info) => {
  await signIn(page, info, MARKETER);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Customers' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Settings' })).toHaveCount(0);
  await expect(nav.getByRole('link', { name: 'Integrations' })).toHaveCount(0);

  for (const path of ['/settings', '/integrations']) {
    const response = await page.goto(path);
    expect(response?.status()).toBe(403);
    await expect(page.getByRole('heading', { name: 'Admins only' })).toBeVisible();
  }
  await open(page, info, '/customers');
  await signOut(page);
});

test('an admin creates an API key and sees it once', async ({ page, request }, info) => {
  test.skip(!jsEnabled(info), 'showing a new key needs JavaScript; the CLI covers the no-JS case');
  await signIn(page, info, ADMIN);
  await open(page, info, '/settings');
  const form = page.locator('form', { has: page.getByRole('button', { name: 'Create key' }) });
  await form.getByLabel('Name').fill('Shop backend');
  await form.getByLabel('Role').selectOption('marketer');
  await form.getByRole('button', { name: 'Create key' }).click();
  const secret = await page.getByTestId('new-api-key').inputValue();
  expect(secret).toMatch(/^cc_/);
  await expect(page.getByRole('cell', { name: 'Shop backend', exact: true })).toBeVisible();

  const me = await request.get('/v1/users/me', { headers: { Authorization: `Bearer ${secret}` } });
  expect(me.status()).toBe(200);
  expect((await me.json()).name).toBe('Shop backend');

  await page.getByRole('button', { name: 'Revoke Shop backend' }).click();
  await expect(page.getByRole('cell', { name: 'Shop backend', exact: true })).toHaveCount(0);
  const after = await request.get('/v1/users/me', { headers: { Authorization: `Bearer ${secret}` } });
  expect(after.status()).toBe(401);
});

test('the layout holds at phone width', async ({ page }, info) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await signIn(page, info, ADMIN);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Customers' })).toBeVisible();
});
