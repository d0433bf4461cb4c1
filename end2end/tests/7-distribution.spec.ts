import { APIRequestContext, expect, Page, test } from '@playwright/test';
import { ADMIN, ensureSetUp, jsEnabled, open, signIn } from './helpers';

// A marketer's whole journey: an admin points a Twilio integration at the fake provider
// (WireMock, started by playwright.config.ts), customers are imported, a segment and a
// campaign are made, and the wizard sends. Every recipient gets exactly one SMS with their own
// name and a distinct code; the opted-out customer gets none.
const WIREMOCK = 'http://127.0.0.1:3199';

test.describe.configure({ mode: 'serial' });

test.beforeEach(async ({ page, request }, info) => {
  await ensureSetUp(request);
  await signIn(page, info, ADMIN);
});

async function stubTwilio(request: APIRequestContext) {
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
}

/** Picks an integration by name (its label also shows the rate, and "default" when it is). */
async function chooseIntegration(page: Page, name: string) {
  const value = await page.locator('#integration option', { hasText: name }).first().getAttribute('value');
  await page.getByLabel('SMS integration').selectOption(value!);
}

async function bodiesTo(request: APIRequestContext, phones: string[]): Promise<Map<string, string[]>> {
  const journal = await (await request.get(`${WIREMOCK}/__admin/requests?limit=1000`)).json();
  const out = new Map<string, string[]>(phones.map((p) => [p, []]));
  for (const r of journal.requests) {
    const form = new URLSearchParams(r.request.body);
    const to = form.get('To');
    if (to && out.has(to)) out.get(to)!.push(form.get('Body') ?? '');
  }
  return out;
}

test('a marketer sends unique codes to a segment and watches the report', async ({ page, request }, info) => {
  test.skip(!jsEnabled(info), 'the CSV upload needs JavaScript; the no-JS project runs the wizard below');
  test.setTimeout(120_000);
  await stubTwilio(request);

  // Admin: a Twilio integration pointed at the fake provider.
  await open(page, info, '/integrations/new?provider=twilio');
  await page.getByLabel('Name', { exact: true }).fill('Shop Twilio');
  await page.getByLabel('Account SID').fill('AC0000000000000000000000000000shop');
  await page.getByLabel('Auth token').fill('shop-twilio-auth-token');
  await page.getByLabel('Sender', { exact: true }).fill('+15017122661');
  await page.getByLabel('Base URL (optional)').fill(WIREMOCK);
  await page.getByLabel('Segments per second').fill('50');
  await page.getByRole('button', { name: 'Add integration' }).click();
  await expect(page.getByText('Integration saved.')).toBeVisible();

  // Customers, imported.
  await open(page, info, '/customers');
  const csv = [
    'source_id,name,phone,sms_consent',
    'jrn-1,Alma Ortiz,+14155550201,opted_in',
    'jrn-2,Bruno Diaz,+14155550202,opted_in',
    'jrn-3,Chloé Martin,+14155550203,unknown',
    'jrn-4,Dario Fo,+14155550204,opted_in',
    'jrn-5,Elena Nope,+14155550205,opted_out',
  ].join('\n');
  await page.getByLabel('CSV file').setInputFiles({ name: 'journey.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: 'Import' }).click();
  await expect(page.getByTestId('import-result')).toHaveText('5 created, 0 updated, 0 rejected.');

  // A segment of the five, and a campaign of codes.
  await open(page, info, '/segments');
  await page.getByRole('link', { name: 'New segment' }).first().click();
  await page.getByLabel('Name', { exact: true }).fill('Journey customers');
  await page.getByRole('radio', { name: /Static/ }).check();
  await page.getByLabel('Customers (static segments)').fill('jrn-1, jrn-2, jrn-3, jrn-4, jrn-5');
  await page.getByRole('button', { name: 'Create segment' }).click();
  await expect(page.getByTestId('segment-count')).toHaveText('5');

  await open(page, info, '/campaigns/new');
  await page.getByLabel('Name', { exact: true }).fill('Journey codes');
  await page.getByLabel('Number of codes').fill('20');
  await page.getByLabel('Discount value').fill('15');
  await page.getByLabel('Pattern', { exact: true }).fill('JRN-#####');
  await page.getByRole('button', { name: 'Create campaign' }).click();
  await expect(page.getByTestId('codes-total')).toHaveText('20');

  // The wizard.
  await open(page, info, '/distributions');
  await page.getByRole('button', { name: 'Manual message' }).click();
  await expect(page.getByRole('heading', { name: '1. What do you send?' })).toBeVisible();
  await page.getByLabel('Send unique codes from a campaign').check();
  // Unique codes need their campaign: said beside the field, nothing saved.
  await page.getByRole('button', { name: 'Save and continue →' }).click();
  await expect(page.getByText('Choose the campaign whose codes to send.')).toBeVisible();
  await expect(page.getByLabel('Campaign', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await page.getByLabel('Campaign', { exact: true }).selectOption({ label: 'Journey codes — 20 codes left' });
  await page.getByRole('button', { name: 'Save and continue →' }).click();

  await expect(page.getByRole('heading', { name: '2. Who gets it?' })).toBeVisible();
  await page.getByLabel('Segment', { exact: true }).selectOption({ label: 'Journey customers (5 now)' });
  await page.getByRole('button', { name: 'Save and continue →' }).click();

  await expect(page.getByRole('heading', { name: '3. Name and subject' })).toBeVisible();
  await page.getByLabel('Name', { exact: true }).fill('Journey blast');
  await page.getByLabel('Subject').fill('Spring codes');
  await page.getByRole('button', { name: 'Save and continue →' }).click();

  await expect(page.getByRole('heading', { name: '4. Channel and message' })).toBeVisible();
  await chooseIntegration(page, 'Shop Twilio');
  const editor = page.locator('textarea[name="template"]');
  await editor.fill('Hi {{ customer.first_name }}, code {{ voucher.code }} = {{ voucher.discount }} off. {{ unsubscribe_text }}');
  // A unique-codes message offers code tags, not the promotion's.
  await expect(page.getByRole('toolbar').getByRole('button', { name: /Code as QR link/ })).toBeVisible();
  await expect(page.getByRole('toolbar').getByRole('button', { name: /Promotion/ })).toHaveCount(0);
  // Back saves what was typed on this step; forward again finds it, and the step before.
  await page.getByRole('button', { name: '← Back' }).click();
  await expect(page.getByRole('heading', { name: '3. Name and subject' })).toBeVisible();
  await expect(page.getByLabel('Subject')).toHaveValue('Spring codes');
  await page.getByRole('button', { name: 'Save and continue →' }).click();
  await expect(page.getByRole('heading', { name: '4. Channel and message' })).toBeVisible();
  await expect(editor).toHaveValue(/^Hi \{\{ customer\.first_name \}\}, code \{\{ voucher\.code \}\}/);
  await expect(page.locator('#integration option:checked')).toHaveText(/Shop Twilio/);
  await expect(page.getByRole('status').getByText(/^1 segment · .* · GSM-7$/)).toBeVisible();
  await page.getByRole('button', { name: 'Save and continue →' }).click();

  await expect(page.getByRole('heading', { name: '5. Reminders (optional)' })).toBeVisible();
  await page.getByLabel('Send a reminder').check();
  await page.getByLabel('Hours after the send').fill('48');
  await page.getByRole('button', { name: 'Save and continue →' }).click();

  // The review: numbers, exclusions, samples, then SEND.
  await expect(page.getByRole('heading', { name: '6. Review' })).toBeVisible();
  await expect(page.getByTestId('recipients')).toHaveText('4 of 5 in the audience');
  await expect(page.getByTestId('exclusions')).toContainText('1 opted out');
  await expect(page.getByTestId('codes')).toHaveText('4 needed · 20 available');
  // Three of the four, in customer order (ids, not names).
  await expect(page.getByTestId('samples').locator('li')).toHaveCount(3);
  await expect(page.getByTestId('samples')).toContainText(/Hi (Alma|Bruno|Chloé|Dario), code JRN-\d{5} = 15% off\. Reply STOP to opt out/);
  await expect(page.getByText('scheduled 48 h after the send, if not redeemed')).toBeVisible();
  await page.getByRole('button', { name: 'SEND' }).click();

  // Progress reaches 100 % on its own; then the report.
  await expect(page.getByTestId('distribution-status')).toHaveText('sent', { timeout: 30_000 });
  await expect(page.getByTestId('percent')).toHaveText('100%');
  await expect(page.getByTestId('counters')).toContainText('Sent 4');
  await expect(page.getByTestId('funnel')).toBeVisible();
  await expect(page.getByTestId('failures')).toContainText('Opted out of SMS');
  const log = page.getByTestId('message-log');
  await expect(log.getByRole('row')).toHaveCount(6);
  await page.getByLabel('Search messages').fill('dario');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(log.getByRole('row')).toHaveCount(2);
  const csvLink = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
  const exported = await page.request.get(csvLink!);
  expect(exported.status()).toBe(200);
  // The export holds what the log shows: the search for Dario.
  const lines = (await exported.text()).trim().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain('Dario');

  // What the provider received: one message each, own name, distinct codes; none for Elena.
  const phones = ['+14155550201', '+14155550202', '+14155550203', '+14155550204', '+14155550205'];
  const got = await bodiesTo(request, phones);
  const codes = new Set<string>();
  for (const [phone, first] of [['+14155550201', 'Alma'], ['+14155550202', 'Bruno'], ['+14155550203', 'Chloé'], ['+14155550204', 'Dario']]) {
    const bodies = got.get(phone)!;
    expect(bodies, phone).toHaveLength(1);
    expect(bodies[0]).toMatch(new RegExp(`^Hi ${first}, code JRN-\\d{5} = 15% off\\.`));
    codes.add(bodies[0].match(/JRN-\d{5}/)![0]);
  }
  expect(codes.size).toBe(4);
  expect(got.get('+14155550205')).toHaveLength(0);

  // The list shows it as sent.
  await open(page, info, '/distributions?status=sent');
  await expect(page.getByTestId('distributions').getByRole('row', { name: /Journey blast/ })).toContainText('100%');
});

test('a draft is duplicated and deleted from any step of the wizard', async ({ page }, info) => {
  await open(page, info, '/distributions');
  await page.getByRole('button', { name: 'Manual message' }).click();
  await expect(page.getByRole('heading', { name: '1. What do you send?' })).toBeVisible();
  await page.getByLabel('Plain message').check();
  await page.getByRole('button', { name: 'Save and continue →' }).click();
  await expect(page.getByRole('heading', { name: '2. Who gets it?' })).toBeVisible();
  const original = page.url().match(/\/distributions\/([^/?]+)\/audience/)![1];

  await page.getByRole('button', { name: 'Duplicate draft' }).click();
  await expect(page).toHaveURL(/\/distributions\/[^/]+\/review$/);
  const copy = page.url().match(/\/distributions\/([^/?]+)\/review/)![1];
  expect(copy).not.toBe(original);
  await expect(page.getByRole('heading', { name: 'Copy of Untitled distribution' })).toBeVisible();

  await page.getByRole('button', { name: 'Delete draft' }).click();
  await expect(page).toHaveURL(/\/distributions$/);
  await open(page, info, `/distributions/${copy}/purpose`);
  await expect(page.getByText(`No distribution has the id "${copy}".`)).toBeVisible();
  await open(page, info, `/distributions/${original}/audience`);
  await expect(page.getByRole('heading', { name: '2. Who gets it?' })).toBeVisible();
});

test('a SEND refused at the last moment says why', async ({ page }, info) => {
  const created = await page.request.post('/api/create_api_key', {
    headers: { Accept: 'application/json' },
    form: { name: `refusal spec ${Date.now()}`, role: 'admin' },
  });
  expect(created.status()).toBe(200);
  const auth = { Authorization: `Bearer ${(await created.json()).secret}` };
  const stamp = `${info.project.name}-${Date.now()}`;
  const sandbox = await page.request.post('/v1/integrations/sms', {
    headers: auth,
    data: { name: `Refusal sandbox ${stamp}`, provider: 'sandbox', max_segments_per_second: 10 },
  });
  expect(sandbox.status()).toBe(201);
  const integration = (await sandbox.json()).id;
  const customer = await page.request.post('/v1/customers', {
    headers: auth,
    data: { source_id: `refusal-${stamp}`, name: 'Rita Refusal', phone: '+14155550277' },
  });
  expect(customer.status()).toBe(201);
  const draft = await page.request.post('/v1/distributions', {
    headers: auth,
    data: {
      name: `Refused ${stamp}`, purpose: 'plain', audience: { customer: (await customer.json()).id },
      integration, template: 'Hello {{ customer.first_name }}.',
    },
  });
  expect(draft.status()).toBe(201);
  const id = (await draft.json()).id;

  await open(page, info, `/distributions/${id}/review`);
  await expect(page.getByTestId('recipients')).toHaveText('1 of 1 in the audience');
  // Between the review and SEND the integration is switched off.
  const off = await page.request.patch(`/v1/integrations/sms/${integration}`, { headers: auth, data: { enabled: false } });
  expect(off.status()).toBe(200);
  await page.getByRole('button', { name: 'SEND' }).click();
  await expect(page.locator('.send-form [role="alert"]')).toContainText('The chosen integration is disabled.');
  const after = await (await page.request.get(`/v1/distributions/${id}`, { headers: auth })).json();
  expect(after.status).toBe('draft');
});

test('the wizard works without JavaScript: a plain message to one customer', async ({ page, request }, info) => {
  test.skip(jsEnabled(info), 'the hydrated project runs the full journey above');
  await stubTwilio(request);
  await open(page, info, '/integrations/new?provider=twilio');
  await page.getByLabel('Name', { exact: true }).fill('Plain Twilio');
  await page.getByLabel('Account SID').fill('AC0000000000000000000000000000nojs');
  await page.getByLabel('Auth token').fill('plain-twilio-auth-token');
  await page.getByLabel('Sender', { exact: true }).fill('+15017122661');
  await page.getByLabel('Base URL (optional)').fill(WIREMOCK);
  await page.getByLabel('Segments per second').fill('20');
  await page.getByRole('button', { name: 'Add integration' }).click();
  await expect(page.getByText('Integration saved.')).toBeVisible();

  await open(page, info, '/customers/new');
  await page.getByLabel('Name').fill('Nora Nojs');
  await page.getByLabel('Phone').fill('+14155550299');
  await page.getByRole('button', { name: 'Add customer' }).click();
  await expect(page.getByRole('heading', { name: 'Nora Nojs', level: 1 })).toBeVisible();

  await open(page, info, '/distributions');
  await page.getByRole('button', { name: 'Manual message' }).click();
  await page.getByLabel('Plain message').check();
  await page.getByRole('button', { name: 'Save and continue →' }).click();
  await page.getByLabel('One customer').check();
  await page.getByLabel('Customer', { exact: true }).fill('no-such-person');
  await page.getByRole('button', { name: 'Save and continue →' }).click();
  await expect(page.getByText('No customer matches "no-such-person".')).toBeVisible();
  // The page came back with the error and with what was typed, not the saved draft.
  await expect(page.getByLabel('One customer')).toBeChecked();
  await expect(page.getByLabel('Customer', { exact: true })).toHaveValue('no-such-person');
  await page.getByLabel('Customer', { exact: true }).fill('Nora Nojs');
  await page.getByRole('button', { name: 'Save and continue →' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Hello Nora');
  await page.getByRole('button', { name: 'Save and continue →' }).click();
  await chooseIntegration(page, 'Plain Twilio');
  const typo = 'Hello {{ customer.frist_name }}, thanks for shopping with us.';
  await page.locator('textarea[name="template"]').fill(typo);
  await page.getByRole('button', { name: 'Save and continue →' }).click();
  await expect(page.locator('.field-error', { hasText: 'no message can fill {{ customer.frist_name }}' })).toBeVisible();
  await expect(page.locator('textarea[name="template"]')).toHaveValue(typo);
  await page.locator('textarea[name="template"]').fill('Hello {{ customer.first_name }}, thanks for shopping with us.');
  await page.getByRole('button', { name: 'Save and continue →' }).click();
  await page.getByRole('button', { name: 'Save and continue →' }).click();
  await expect(page.getByTestId('recipients')).toHaveText('1 of 1 in the audience');
  await expect(page.getByTestId('samples')).toContainText('Hello Nora, thanks for shopping with us.');
  await page.getByRole('button', { name: 'SEND' }).click();
  await expect(page.getByTestId('distribution-status')).toHaveText(/sending|sent/);
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId('distribution-status')).toHaveText('sent');
  }).toPass({ timeout: 20_000 });
  const got = await bodiesTo(request, ['+14155550299']);
  expect(got.get('+14155550299')).toEqual(['Hello Nora, thanks for shopping with us.']);
});
