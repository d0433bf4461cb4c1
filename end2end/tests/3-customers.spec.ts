import { expect, test } from '@playwright/test';
import { ADMIN, ensureSetUp, jsEnabled, open, signIn } from './helpers';

test.describe.configure({ mode: 'serial' });

test.beforeEach(async ({ page, request }, info) => {
  await ensureSetUp(request);
  await signIn(page, info, ADMIN);
});

test('a marketer adds a customer, fixing a bad phone number', async ({ page }, info) => {
  const name = `Marta Ruiz ${info.project.name}`;
  await open(page, info, '/customers');
  await page.getByRole('link', { name: 'Add customer' }).first().click();
  await expect(page.getByRole('heading', { name: 'New customer' })).toBeVisible();
  if (jsEnabled(info)) await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Phone').fill('12');
  await page.getByRole('button', { name: 'Add customer' }).click();
  await expect(page.getByText('"12" is not a valid phone number')).toBeVisible();

  if (!jsEnabled(info)) await page.getByLabel('Name').fill(name);
  await page.getByLabel('Phone').fill('+34 612 345 678');
  await page.getByLabel('SMS consent').selectOption('opted_in');
  await page.getByLabel('Metadata (JSON object)').fill('{"tier": "gold", "points": 120}');
  await page.getByRole('button', { name: 'Add customer' }).click();
  await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
  await expect(page.getByLabel('Phone')).toHaveValue('+34612345678');
  await expect(page.getByRole('heading', { name: 'Consent history' })).toBeVisible();
  await expect(page.locator('.timeline li')).toHaveCount(1);
});

test('customers are searched, edited and deleted', async ({ page }, info) => {
  const name = `Marta Ruiz ${info.project.name}`;
  await open(page, info, '/customers');
  await page.getByLabel('Search customers').fill(info.project.name === 'no-js' ? 'ruiz no-js' : 'ruiz hydrated');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
  if (jsEnabled(info)) await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();

  await page.getByLabel('Metadata (JSON object)').fill('{not json');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('This is not valid JSON')).toBeVisible();

  if (!jsEnabled(info)) await open(page, info, page.url().split('?')[0]);
  await page.getByLabel('Metadata (JSON object)').fill('{"tier": "silver"}');
  await page.getByLabel('SMS consent').selectOption('opted_out');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('Saved.')).toBeVisible();
  await expect(page.locator('.timeline li').first()).toContainText('Opted out');
  await expect(page.locator('.timeline li')).toHaveCount(2);

  await page.getByRole('button', { name: 'Delete customer' }).click();
  await expect(page).toHaveURL(/\/customers$/);
  await open(page, info, `/customers?q=${encodeURIComponent(name)}`);
  await expect(page.getByText('No customer matches')).toBeVisible();
});

test('a CSV import stores good rows and lists the bad ones', async ({ page }, info) => {
  test.skip(!jsEnabled(info), 'the upload needs JavaScript; the REST API covers scripts');
  await open(page, info, '/customers');
  const csv = [
    'source_id,name,phone,metadata.tier',
    'imp-1,Iris Import,+44 20 7183 8750,gold',
    'imp-2,Bad Number,12,silver',
    'imp-3,"Nadal, Rafa",+34 612 345 611,',
  ].join('\n');
  await page.getByLabel('CSV file').setInputFiles({ name: 'customers.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: 'Import' }).click();
  await expect(page.getByTestId('import-result')).toHaveText('2 created, 0 updated, 1 rejected.');
  await expect(page.getByRole('row', { name: /3 phone: "12" is not a valid phone number/ })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Nadal, Rafa' })).toBeVisible();
});
