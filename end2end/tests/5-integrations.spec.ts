import { expect, test } from '@playwright/test';
import { ADMIN, ensureSetUp, jsEnabled, open, signIn } from './helpers';

test.describe.configure({ mode: 'serial' });

test.beforeEach(async ({ page, request }, info) => {
  await ensureSetUp(request);
  await signIn(page, info, ADMIN);
});

test('an admin connects Twilio; the token is never shown again', async ({ page }, info) => {
  await open(page, info, '/integrations');
  await page.getByRole('link', { name: 'Twilio' }).click();
  await expect(page.getByRole('heading', { name: 'Add Twilio' })).toBeVisible();
  if (jsEnabled(info)) await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.getByLabel('Name', { exact: true }).fill('Twilio US');
  await page.getByLabel('Account SID').fill('AC0123456789abcdef0123456789abcdef');
  await page.getByRole('button', { name: 'Add integration' }).click();
  await expect(page.getByText('Auth token is required.')).toBeVisible();

  if (!jsEnabled(info)) {
    await page.getByLabel('Name', { exact: true }).fill('Twilio US');
    await page.getByLabel('Account SID').fill('AC0123456789abcdef0123456789abcdef');
  }
  await page.getByLabel('Auth token').fill('f00dfeedcafebeef4321');
  await page.getByLabel('Sender', { exact: true }).fill('+15017122661');
  await page.getByLabel('Segments per second').fill('3');
  await page.getByRole('button', { name: 'Add integration' }).click();
  await expect(page.getByText('Integration saved.')).toBeVisible();
  const row = page.getByTestId('integrations').getByRole('row', { name: /Twilio US/ });
  await expect(row).toContainText('+15017122661');
  await expect(row).toContainText('default');

  await row.getByRole('link', { name: 'Twilio US' }).click();
  await expect(page.getByText('Stored (••••4321); leave empty to keep it.')).toBeVisible();
  await expect(page.getByLabel('Auth token')).toHaveValue('');
  expect(await page.content()).not.toContain('f00dfeedcafebeef');
});

test('a test send through the sandbox shows its answer and lands in the sandbox inbox', async ({ page }, info) => {
  const name = `Demo sandbox ${info.project.name}`;
  await open(page, info, '/integrations/new?provider=sandbox');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Add integration' }).click();
  await expect(page.getByText('Integration saved.')).toBeVisible();
  // Saving loads the list afresh; a click before it is hydrated is a full page load of its own.
  if (jsEnabled(info)) await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.getByRole('link', { name }).click();
  if (jsEnabled(info)) await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByText('Empty: send a test or a distribution through this integration.')).toBeVisible();
  if (jsEnabled(info)) {
    await page.getByLabel('To', { exact: true }).fill('12');
    await page.getByRole('button', { name: 'Send test' }).click();
    await expect(page.getByText('"12" is not a valid phone number')).toBeVisible();
  }
  await page.getByLabel('To', { exact: true }).fill('+34 612 345 678');
  await page.getByLabel('Message', { exact: true }).fill('Hola Ana 👋 tu código es VERANO-42');
  await page.getByRole('button', { name: 'Send test' }).click();
  if (jsEnabled(info)) {
    await expect(page.getByTestId('test-result')).toContainText(/Accepted for \+34612345678: sbx_\w+ · 1 segment/);
    await expect(page.getByTestId('test-result')).toContainText('"status":"recorded"');
  }
  // The sandbox shows what it would have sent (no-JS: the page reloads after the post).
  await expect(page.getByTestId('sandbox-inbox')).toContainText('+34612345678');
  await expect(page.getByTestId('sandbox-inbox')).toContainText('Hola Ana 👋 tu código es VERANO-42');
  const row = page.getByTestId('messages').getByRole('row', { name: /VERANO-42/ });
  await expect(row.getByTestId('message-status')).toHaveText('accepted');
  await expect(row).toContainText('+346…678');
});
