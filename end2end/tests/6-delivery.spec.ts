import { APIRequestContext, expect, Page, test, TestInfo } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { ADMIN, ensureSetUp, jsEnabled, open, signIn } from './helpers';

// WireMock (from npm, started by playwright.config.ts) plays Twilio on loopback: it answers
// the send API, records what Codecast sent (with the status callback address), and the test
// then calls Codecast back as Twilio would, signed with the auth token.
const WIREMOCK = 'http://127.0.0.1:3199';
const TOKEN = 'e2e-twilio-auth-token-0042';

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ request }) => {
  await request.post(`${WIREMOCK}/__admin/reset`);
  const created = await request.post(`${WIREMOCK}/__admin/mappings`, {
    data: {
      request: { method: 'POST', urlPathPattern: '/2010-04-01/Accounts/[A-Za-z0-9]+/Messages.json' },
      response: {
        status: 201,
        headers: { 'Content-Type': 'application/json' },
        jsonBody: { sid: "SM{{randomValue length=32 type='HEXADECIMAL'}}", status: 'queued', num_segments: '1' },
        transformers: ['response-template'],
      },
    },
  });
  expect(created.status()).toBe(201);
});

test.beforeEach(async ({ page, request }, info) => {
  await ensureSetUp(request);
  await signIn(page, info, ADMIN);
});

/** X-Twilio-Signature: HMAC-SHA1 over the URL and the sorted form fields. */
function twilioSignature(url: string, params: Record<string, string>): string {
  const data = Object.keys(params).sort().reduce((acc, k) => acc + k + params[k], url);
  return createHmac('sha1', TOKEN).update(Buffer.from(data, 'utf-8')).digest('base64');
}

async function asTwilio(request: APIRequestContext, url: string, params: Record<string, string>) {
  return request.post(url, { form: params, headers: { 'X-Twilio-Signature': twilioSignature(url, params) } });
}

/** What Codecast asked WireMock to send to `to`, newest first. */
async function sentTo(request: APIRequestContext, to: string): Promise<URLSearchParams[]> {
  const journal = await (await request.get(`${WIREMOCK}/__admin/requests`)).json();
  return journal.requests
    .map((r: { request: { body: string } }) => new URLSearchParams(r.request.body))
    .filter((p: URLSearchParams) => p.get('To') === to);
}

async function addTwilio(page: Page, info: TestInfo, name: string) {
  await open(page, info, '/integrations/new?provider=twilio');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Account SID').fill('AC00000000000000000000000000000e2e');
  await page.getByLabel('Auth token').fill(TOKEN);
  await page.getByLabel('Sender', { exact: true }).fill('+15017122661');
  await page.getByLabel('Base URL (optional)').fill(WIREMOCK);
  await page.getByLabel('Segments per second').fill('10');
  await page.getByRole('button', { name: 'Add integration' }).click();
  await expect(page.getByText('Integration saved.')).toBeVisible();
  await page.getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
  if (jsEnabled(info)) await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
}

test('a test send reaches the fake Twilio and its status callback updates the message', async ({ page, request }, info) => {
  const to = info.project.name === 'no-js' ? '+14155550102' : '+14155550101';
  await addTwilio(page, info, `Fake Twilio ${info.project.name}`);
  const statusWebhook = await page.getByTestId('status-webhook').textContent();
  expect(statusWebhook).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/webhooks\/sms\/int_\w+\/status$/);

  await page.getByLabel('To', { exact: true }).fill(to);
  await page.getByLabel('Message', { exact: true }).fill('Your test code is TEST-0042');
  await page.getByRole('button', { name: 'Send test' }).click();
  if (jsEnabled(info)) {
    await expect(page.getByTestId('test-result')).toContainText(new RegExp(`Accepted for \\${to}: SM[0-9a-f]{32} · 1 segment`));
  }
  const row = page.getByTestId('messages').getByRole('row', { name: /TEST-0042/ }).first();
  await expect(row.getByTestId('message-status')).toHaveText('accepted');

  // What the fake received: Twilio's form, with our callback address for this message.
  const [sent] = await sentTo(request, to);
  expect(sent.get('From')).toBe('+15017122661');
  expect(sent.get('Body')).toBe('Your test code is TEST-0042');
  const callback = sent.get('StatusCallback')!;
  expect(callback.startsWith(`${statusWebhook}?d=`)).toBeTruthy();

  // Twilio reports back; a forged report is refused, a late "sent" does not undo "delivered".
  const forged = await request.post(callback, { form: { MessageSid: 'SMx', MessageStatus: 'failed' }, headers: { 'X-Twilio-Signature': 'AAAA' } });
  expect(forged.status()).toBe(403);
  expect((await asTwilio(request, callback, { MessageSid: 'SMx', MessageStatus: 'delivered', To: to })).status()).toBe(204);
  expect((await asTwilio(request, callback, { MessageSid: 'SMx', MessageStatus: 'sent', To: to })).status()).toBe(204);
  if (jsEnabled(info)) {
    // The page follows the queue on its own.
    await expect(row.getByTestId('message-status')).toHaveText('delivered', { timeout: 10_000 });
  } else {
    await page.reload();
    await expect(page.getByTestId('messages').getByRole('row', { name: /TEST-0042/ }).first().getByTestId('message-status')).toHaveText('delivered');
  }
});

test('an inbound STOP through the fake Twilio opts the customer out', async ({ page, request }, info) => {
  const phone = info.project.name === 'no-js' ? '+14155550112' : '+14155550111';
  const name = `Stop Tester ${info.project.name}`;
  await open(page, info, '/customers/new');
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Phone').fill(phone);
  await page.getByLabel('SMS consent').selectOption('opted_in');
  await page.getByRole('button', { name: 'Add customer' }).click();
  await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
  const customerUrl = page.url();

  await open(page, info, '/integrations');
  await page.getByRole('link', { name: `Fake Twilio ${info.project.name}` }).click();
  const inbound = (await page.getByTestId('inbound-webhook').textContent())!;
  const reply = { MessageSid: 'SMin0001', AccountSid: 'AC00000000000000000000000000000e2e', From: phone, To: '+15017122661', Body: 'STOP' };
  expect((await request.post(inbound, { form: reply })).status()).toBe(403);
  const res = await asTwilio(request, inbound, reply);
  expect(res.status()).toBe(200);
  expect(await res.text()).toContain('<Response/>');

  await open(page, info, new URL(customerUrl).pathname);
  await expect(page.getByLabel('SMS consent')).toHaveValue('opted_out');
  await expect(page.locator('.timeline li').first()).toContainText('Opted out');
  await expect(page.locator('.timeline li').first()).toContainText(`SMS reply via Fake Twilio ${info.project.name}`);

  // Only a START from that number opts it in again: opting in by hand is a field error.
  await page.getByLabel('SMS consent').selectOption('opted_in');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('Only a START sent from that number opts it in again.')).toBeVisible();
  await open(page, info, new URL(customerUrl).pathname);
  await expect(page.getByLabel('SMS consent')).toHaveValue('opted_out');
});
