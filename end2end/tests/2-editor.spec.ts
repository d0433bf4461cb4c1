import { expect, test } from '@playwright/test';
import { ADMIN, ensureSetUp, jsEnabled, open, signIn } from './helpers';

// The live preview is the hydrated enhancement; without JavaScript the page still renders
// the starter message and its counts on the server.
test.describe.configure({ mode: 'serial' });

test.beforeEach(async ({ page, request }, info) => {
  await ensureSetUp(request);
  await signIn(page, info, ADMIN);
  await open(page, info, '/preview');
});

test('the preview renders on the server', async ({ page }) => {
  await expect(page.getByRole('heading', { name: 'Message preview', level: 1 })).toBeVisible();
  await expect(page.getByTestId('preview-text')).toContainText('Hi Ana, here is 20% off with code SUMMER-4821');
  await expect(page.getByTestId('sms-summary')).toContainText('GSM-7');
});

test('typing updates text, counts and the non-GSM highlight', async ({ page }, info) => {
  test.skip(!jsEnabled(info), 'the live preview needs JavaScript');
  const body = page.getByLabel('Message', { exact: true });
  await body.fill('');
  await body.pressSequentially('Hi {{ customer.first_name }}, 20% off today');
  await expect(page.getByTestId('preview-text')).toHaveText('Hi Ana, 20% off today');
  await expect(page.getByTestId('sms-summary')).toHaveText('1 segment · 21/160 · GSM-7');

  await body.pressSequentially(' \u2014 don\u2019t miss it');
  await expect(page.getByTestId('sms-summary')).toContainText('UCS-2');
  await expect(page.getByTestId('preview-text').locator('mark.non-gsm')).toHaveCount(2);
  await page.getByRole('button', { name: /Use smart encoding/ }).click();
  await expect(body).toHaveValue("Hi {{ customer.first_name }}, 20% off today - don't miss it");
  await expect(page.getByTestId('sms-summary')).toHaveText('1 segment · 37/160 · GSM-7');

  await body.fill('x'.repeat(161));
  await expect(page.getByTestId('sms-summary')).toHaveText('2 segments · 161/306 · GSM-7');
  await expect(page.getByText('Longer than one SMS')).toBeVisible();
});

test('syntax errors and unknown tags show where they are', async ({ page }, info) => {
  test.skip(!jsEnabled(info), 'the live preview needs JavaScript');
  const body = page.getByLabel('Message', { exact: true });
  await body.fill('Hi {{ customer.name | upcas }}');
  await expect(page.getByTestId('template-problems')).toContainText('Line 1, column 23: There is no filter called upcas. Did you mean upcase?');
  await expect(page.getByTestId('preview-text')).toHaveText('Fix the template to see the message.');
  await body.fill('Hi {{ custmer.name }}');
  await expect(page.getByTestId('template-problems')).toContainText('custmer.name is not a known tag');
});

test('the tag picker inserts at the cursor and the QR appears', async ({ page }, info) => {
  test.skip(!jsEnabled(info), 'the tag picker needs JavaScript');
  const body = page.getByLabel('Message', { exact: true });
  await body.fill('Hello ! Show this: ');
  await body.evaluate((el: HTMLTextAreaElement) => el.setSelectionRange(6, 6));
  await page.getByRole('button', { name: 'First name' }).click();
  await expect(body).toHaveValue('Hello {{ customer.first_name | default: "there" }}! Show this: ');
  await body.press('Control+End');
  await page.getByRole('button', { name: 'Code as QR link' }).click();
  await expect(page.getByTestId('preview-text')).toContainText('Hello Ana! Show this: http');
  await expect(page.locator('.qr-image svg')).toBeVisible();
});

test('switching the sample customer changes the preview', async ({ page }, info) => {
  test.skip(!jsEnabled(info), 'the live preview needs JavaScript');
  const body = page.getByLabel('Message', { exact: true });
  await body.fill('Hi {{ customer.first_name | default: "there" }}');
  await expect(page.getByTestId('preview-text')).toHaveText('Hi Ana');
  await page.getByLabel('Preview as').selectOption({ label: 'Zoë Kowalczyk (sample)' });
  await expect(page.getByTestId('preview-text')).toHaveText('Hi Zoë');
  await expect(page.getByTestId('sms-summary')).toHaveText('1 segment · 6/70 · UCS-2');
  await page.getByLabel('Preview as').selectOption({ label: 'No name on file (sample)' });
  await expect(page.getByTestId('preview-text')).toHaveText('Hi there');
});

test('a real customer can be found and previewed', async ({ page }, info) => {
  test.skip(!jsEnabled(info), 'the customer search needs JavaScript');
  const key = await page.request.post('/api/create_api_key', {
    headers: { Accept: 'application/json' },
    form: { name: `editor spec ${Date.now()}`, role: 'marketer' },
  });
  expect(key.status()).toBe(200);
  const { secret } = await key.json();
  const created = await page.request.post('/v1/customers', {
    headers: { Authorization: `Bearer ${secret}` },
    data: { source_id: 'zoltan-1', name: 'Zoltán Kovács', phone: '+36 20 123 4567', metadata: { tier: 'platinum' } },
  });
  expect([200, 201]).toContain(created.status());

  const body = page.getByLabel('Message', { exact: true });
  await body.fill('Hi {{ customer.first_name }}, {{ customer.metadata.tier | upcase }} members save more');
  await page.getByLabel('or a customer').fill('kovác');
  await page.getByRole('option').getByRole('button', { name: /Zoltán Kovács/ }).click();
  await expect(page.getByTestId('preview-customer')).toContainText('Zoltán Kovács');
  await expect(page.getByTestId('preview-text')).toHaveText('Hi Zoltán, PLATINUM members save more');
  await expect(page.getByTestId('sms-summary')).toContainText('UCS-2');
  // The customer was fetched once: typing keeps previewing them without new requests.
  let requests = 0;
  page.on('request', (r) => { if (r.url().includes('/api/')) requests++; });
  await body.pressSequentially('!');
  await expect(page.getByTestId('preview-text')).toHaveText('Hi Zoltán, PLATINUM members save more!');
  expect(requests).toBe(0);
});

test('the editor fits a 360 px phone', async ({ page }, info) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await open(page, info, '/preview');
  await expect(page.getByTestId('preview-text')).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await expect(page.getByLabel('Message', { exact: true })).toBeVisible();
});
