import { expect, Page, test } from '@playwright/test';
import { ADMIN, ensureSetUp, jsEnabled, open, signIn } from './helpers';

test.describe.configure({ mode: 'serial' });

test.beforeEach(async ({ page, request }, info) => {
  await ensureSetUp(request);
  await signIn(page, info, ADMIN);
});

/** Creates or updates (by source id) a customer through the app's own server function. */
async function saveCustomer(page: Page, sourceId: string, name: string, tier: string) {
  const res = await page.request.post('/api/save_customer', {
    headers: { Accept: 'application/json' },
    form: {
      source_id: sourceId, name, email: '', phone: '', timezone: '',
      metadata: JSON.stringify({ tier }), sms_consent: 'opted_in',
    },
  });
  expect(res.status()).toBe(200);
}

test('a rule segment counts matches live and keeps its members current', async ({ page }, info) => {
  // Tiers no other spec uses, so the counts below are exact whatever else is stored.
  await saveCustomer(page, 'seg-1', 'Gold One', 'orchid');
  await saveCustomer(page, 'seg-2', 'Gold Two', 'orchid');
  await saveCustomer(page, 'seg-3', 'Silver Three', 'fern');

  await open(page, info, '/segments');
  await page.getByRole('link', { name: 'New segment' }).first().click();
  await expect(page.getByRole('heading', { name: 'New segment' })).toBeVisible();
  if (jsEnabled(info)) await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.getByLabel('Name', { exact: true }).fill('Gold members');
  const json = page.getByLabel('Rule (JSON, as the API takes it)');

  if (jsEnabled(info)) {
    // Every customer matches an empty rule; each condition narrows it down as it is typed.
    const count = page.getByTestId('rule-count');
    await expect(count).toHaveText(/^[\d,]+ customers match$/);
    const everyone = Number((await count.textContent())!.replace(/\D/g, ''));
    expect(everyone).toBeGreaterThanOrEqual(3);
    await page.getByRole('button', { name: '+ Add condition' }).click();
    const row = page.getByRole('listitem', { name: 'Condition 1' });
    await row.getByLabel('Metadata key').fill('tier');
    await row.getByLabel('Value').fill('orchid');
    await expect(count).toHaveText('2 customers match');
    await row.getByLabel('Value').fill('fern');
    await expect(count).toHaveText('1 customer matches');
    await row.getByLabel('not').check();
    await expect(count).toHaveText(`${(everyone - 1).toLocaleString('en-US')} customers match`);
    await row.getByLabel('not').uncheck();
    await row.getByLabel('Value').fill('orchid');
    await expect(count).toHaveText('2 customers match');
    // The builder writes the JSON the API takes.
    await page.getByText('Rule as JSON').click();
    await expect(json).toHaveValue(/"customer\.metadata\.tier"/);
  } else {
    await json.fill('{"all": [{"field": "customer.metadata.tier", "op": "equals", "value": "orchid"}]}');
    await page.getByRole('button', { name: 'Create segment' }).click();
    await expect(page.getByText('filter.all[0].op: Unknown operator "equals"')).toBeVisible();
    await page.getByLabel('Name', { exact: true }).fill('Gold members');
    await page.getByLabel('Rule (JSON, as the API takes it)')
      .fill('{"all": [{"field": "customer.metadata.tier", "op": "eq", "value": "orchid"}]}');
  }
  await page.getByRole('button', { name: 'Create segment' }).click();
  await expect(page.getByRole('heading', { name: 'Gold members', level: 1 })).toBeVisible();
  await expect(page.getByTestId('segment-count')).toHaveText('2');
  await expect(page.getByRole('link', { name: 'Gold One' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Gold Two' })).toBeVisible();

  // A customer who changes tier leaves the segment; the customer page says so.
  await saveCustomer(page, 'seg-2', 'Gold Two', 'fern');
  await page.reload();
  await expect(page.getByTestId('segment-count')).toHaveText('1');
  await expect(page.getByRole('link', { name: 'Gold Two' })).toHaveCount(0);
  await page.getByRole('link', { name: 'Gold One' }).click();
  await expect(page.getByTestId('customer-segments')).toContainText('Gold members · member since');
});

test('a campaign generates codes and a published code opens as a QR image', async ({ page }, info) => {
  await saveCustomer(page, 'qr-1', 'Quinn Rivera', 'gold');
  await open(page, info, '/campaigns/new');
  await page.getByLabel('Name', { exact: true }).fill('Summer sale');
  await page.getByLabel('Number of codes').fill('50');
  await page.getByLabel('Discount value').fill('20');
  await page.getByLabel('Pattern', { exact: true }).fill('SUMMER-#');
  await page.getByRole('button', { name: 'Create campaign' }).click();
  await expect(page.getByText('This pattern allows 10 different codes; 50 would use more than half')).toBeVisible();

  if (!jsEnabled(info)) {
    await page.getByLabel('Name', { exact: true }).fill('Summer sale');
    await page.getByLabel('Number of codes').fill('50');
    await page.getByLabel('Discount value').fill('20');
  }
  await page.getByLabel('Pattern', { exact: true }).fill('SUMMER-####');
  await page.getByRole('button', { name: 'Create campaign' }).click();
  await expect(page.getByRole('heading', { name: 'Summer sale', level: 1 })).toBeVisible();
  await expect(page.getByTestId('codes-total')).toHaveText('50');
  await expect(page.getByText('20% off')).toBeVisible();

  await page.getByLabel('Customer id or source id').fill('qr-1');
  await page.getByRole('button', { name: 'Publish code' }).click();
  await expect(page.getByTestId('codes-published')).toHaveText('1');
  const row = page.getByTestId('codes').getByRole('row').filter({ hasText: 'Quinn Rivera' });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText(/SUMMER-\d{4}/);
  const href = await row.getByRole('link', { name: 'PNG' }).getAttribute('href');
  expect(href).toMatch(/\/q\/[A-Za-z0-9_-]{22}$/);
  const image = await page.request.get(href!);
  expect(image.status()).toBe(200);
  expect(image.headers()['content-type']).toBe('image/png');
  await page.goto(href!);
  await expect(page.locator('img')).toBeVisible();
  const forged = await page.request.get(href!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
  expect(forged.status()).toBe(404);

  // The campaign list shows the counts; a promotion tier is added beside it.
  await open(page, info, '/campaigns');
  await expect(page.getByRole('row', { name: /Summer sale 20% off 50 · SUMMER-#### .* 1 0/ })).toBeVisible();
  await page.getByText('+ New promotion tier').click();
  await page.getByLabel('Name', { exact: true }).fill('Spend 50, save 10');
  await page.getByLabel('Banner text').fill('10.00 off orders over 50.00');
  await page.getByLabel('Discount', { exact: true }).selectOption('AMOUNT');
  await page.getByLabel('Discount value').fill('10');
  await page.getByLabel('Cart total at least (optional)').fill('50');
  await page.getByRole('button', { name: 'Save promotion tier' }).click();
  await expect(page.getByTestId('tiers')).toContainText('cart total ≥ 50.00');
});
