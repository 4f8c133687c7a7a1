/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against a real
 * server and a real Kamailio registrar: sign in, add a line and watch it reach `registered` (and
 * a wrong password reach `failed` with the registrar's reason) without reloading, follow a
 * ConversationRelay call's transcript as it streams, steer it and press End, page through the
 * history, and let the platform admin pick a tenant. No console errors anywhere; screenshots in
 * test-artifacts/dashboard/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { ensureDashboardBuilt, launchBrowser, type Browser } from '../helpers/browser.js';
import { newCallSid, postTwilio, ringAgent, twilioAccount, type TwilioAccount } from '../helpers/twilio.js';
import { fastSip } from '../interop/helpers.js';
import { Kamailio, waitFor } from '../interop/peers.js';

// This file's share of the interop port ranges: SIP 19100-19199, RTP 46000-46199.
const KAMAILIO_PORT = 19100;
const SIP_PORT = 19101;
const UI_TIMEOUT = 15_000;
/** The history page shows 10 calls; 11 finished ones plus the supervised call make two pages. */
const FINISHED_CALLS = 11;

const db = testDbs()[0];

describe(`dashboard in Chromium (${db})`, () => {
  const kamailio = new Kamailio({ port: KAMAILIO_PORT, users: { desk: 'desk-pw', lobby: 'lobby-pw' }, minExpires: 5, maxExpires: 10 });
  let s: TestServer;
  let a: TwilioAccount;
  let browser: Browser;
  let page: Page;
  let supervisedSid = '';

  const row = (p: Page, table: string, text: string) => p.getByTestId(table).locator('tbody tr', { hasText: text });

  before(async () => {
    ensureDashboardBuilt();
    await kamailio.start();
    s = await startTestServer(db, {
      sip: true,
      config: (c) => {
        fastSip(c);
        c.sip.port = SIP_PORT;
        c.media.rtpPortMin = 46000;
        c.media.rtpPortMax = 46199;
      },
    });
    a = await twilioAccount(s);
    browser = await launchBrowser('dashboard');
    page = browser.page;
    page.setDefaultTimeout(UI_TIMEOUT);
  });

  after(async () => {
    await browser?.close();
    await s?.close().catch(() => {});
    await kamailio.destroy();
  });

  test('/app redirects to the page, which is served with a strict CSP and no key', async () => {
    const bare = await fetch(`${s.url}/app`, { redirect: 'manual' });
    assert.equal(bare.status, 302);
    assert.equal(bare.headers.get('location'), '/app/');
    const index = await fetch(`${s.url}/app/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    assert.match(index.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal((await fetch(`${s.url}/app/no-such-file.js`)).status, 404);
  });

  test('a wrong key is refused on the sign-in page; the tenant key signs in', async () => {
    await page.goto(`${s.url}/app`);
    await page.getByLabel('API key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'that key or login is not valid' }).waitFor();
    await browser.screenshot(page, '01-sign-in-refused');
    browser.expectOnly(/status of 401/);

    await page.getByLabel('API key').fill(a.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Lines' }).waitFor();
    assert.equal(await page.getByTestId('who').textContent(), 'API key');
  });

  test('a line added on the page comes up registered at Kamailio, live; a wrong password shows the registrar\'s refusal', async () => {
    const registrar = `sip:127.0.0.1:${KAMAILIO_PORT}`;
    const add = async (name: string, username: string, password: string) => {
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByLabel('Registrar (sip:host:port)').fill(registrar);
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Add line' }).click();
      await row(page, 'lines', name).waitFor();
    };
    await add('Front desk', 'desk', 'desk-pw');
    await add('Lobby', 'lobby', 'wrong-password');
    const desk = row(page, 'lines', 'Front desk');
    assert.equal(await desk.getByTestId('line-status').textContent(), 'disabled');
    // A secret typed into the form is not shown back anywhere on the page.
    assert.ok(!(await page.content()).includes('desk-pw'));

    await desk.getByRole('button', { name: 'Activate' }).click();
    // Nothing on the page polls: the state arrives as registration.updated over /events/ws.
    await desk.getByTestId('line-state').filter({ hasText: /^registered$/ }).waitFor();
    const [binding] = await waitFor('desk bound at Kamailio', async () => { const b = await kamailio.lookup('desk'); return b.length ? b : null; });
    assert.match(binding!.address, new RegExp(`@127\\.0\\.0\\.1:${SIP_PORT}$`));

    const lobby = row(page, 'lines', 'Lobby');
    await lobby.getByRole('button', { name: 'Activate' }).click();
    await lobby.getByTestId('line-error').filter({ hasText: 'credentials rejected by registrar' }).waitFor();
    assert.equal(await lobby.getByTestId('line-state').textContent(), 'failed');
    await browser.screenshot(page, '02-lines-live');

    // Binding an agent to the line is one pick in the row; the API then names the agent as its listener.
    await desk.getByLabel('agent').selectOption({ label: 'Ava' });
    await waitFor('Ava bound to the desk line', async () => {
      const lines = await s.request('GET', '/phone-endpoints', { key: a.key });
      return lines.body.items.find((l: { name?: string; agent_id: string | null }) => l.name === 'Front desk')?.agent_id === a.agentId;
    });
    await desk.getByRole('button', { name: 'Disable' }).click();
    await desk.getByTestId('line-status').filter({ hasText: /^disabled$/ }).waitFor();
    await waitFor('desk unbound', async () => (await kamailio.lookup('desk')).length === 0, 5_000);
  });

  test('a relay call streams its transcript to the page; Say reaches the caller, context is added, End ends it', async () => {
    // Finished calls first, for the history test below.
    for (let i = 0; i < FINISHED_CALLS; i++) {
      const sid = newCallSid();
      const params = { AccountSid: a.accountSid, CallSid: sid, From: `+1555000${String(1000 + i)}`, To: a.number };
      assert.equal((await postTwilio(s, '/twilio/voice', { ...params, CallStatus: 'ringing', Direction: 'inbound' }, a.authToken)).status, 200);
      assert.equal((await postTwilio(s, '/twilio/status', { ...params, CallStatus: 'completed', CallDuration: String(30 + i) }, a.authToken)).status, 200);
    }

    await page.goto(`${s.url}/app/#/calls`);
    await page.getByTestId('link-state').filter({ hasText: 'live: open' }).waitFor();
    const { callSid, client } = await ringAgent(s, a, '+15550009999');
    supervisedSid = callSid;
    const live = row(page, 'active-calls', '+15550009999');
    await live.getByRole('button', { name: 'Watch' }).click();
    const transcript = page.getByTestId('transcript');
    await transcript.getByText('Hello, this is Ava.').waitFor();

    client.prompt('I would like to', false);
    await page.getByTestId('partial').filter({ hasText: 'I would like to' }).waitFor();
    client.prompt('I would like to renew my plan');
    const reply = await client.reply(0);
    await transcript.locator('[data-role="caller"]', { hasText: 'I would like to renew my plan' }).waitFor();
    await transcript.locator('[data-role="agent"]', { hasText: reply.text.trim().slice(0, 40) }).waitFor();
    assert.equal(await page.getByTestId('partial').count(), 0, 'the partial line gives way to the final turn');

    await page.getByLabel('text to say').fill('A supervisor is on the line.');
    await page.getByRole('button', { name: 'Say' }).click();
    await client.waitFor((f) => f.type === 'text' && f.token === 'A supervisor is on the line.');
    await transcript.locator('[data-role="supervisor"]', { hasText: 'A supervisor is on the line.' }).waitFor();

    // A key added to the context comes back as context.updated and shows in the panel.
    await page.getByLabel('context key').fill('plan');
    await page.getByLabel('context value').fill('gold');
    await page.getByRole('button', { name: 'Add to context' }).click();
    await page.getByTestId('context').filter({ hasText: '"plan": "gold"' }).waitFor();
    assert.equal((await s.server.services.calls.findBySid(callSid))?.context.plan, 'gold');

    // A bad digit string is refused with the API's reason, shown beside the button.
    await page.getByLabel('digits').fill('12x');
    await page.getByRole('button', { name: 'Send DTMF' }).click();
    await page.getByRole('alert').filter({ hasText: 'digit must be' }).waitFor();
    browser.expectOnly(/status of 400/);
    await browser.screenshot(page, '03-live-call');

    await page.getByTestId('end-call').click();
    await client.waitFor((f) => f.type === 'end');
    await client.close();
    await page.getByTestId('call-ended').filter({ hasText: 'ended by supervisor' }).waitFor();
    await row(page, 'active-calls', '+15550009999').waitFor({ state: 'detached' });
    await browser.screenshot(page, '04-call-ended');
  });

  test('history pages through every call and opens a transcript', async () => {
    await page.goto(`${s.url}/app/#/history`);
    const summary = page.getByTestId('page-summary');
    await summary.filter({ hasText: `1–10 of ${FINISHED_CALLS + 1}` }).waitFor();
    assert.equal(await page.getByTestId('history').locator('tbody tr').count(), 10);
    // Newest first: the supervised call leads the first page.
    await row(page, 'history', '+15550009999').getByRole('button', { name: 'Transcript' }).click();
    await page.getByTestId('history-detail').getByText('A supervisor is on the line.').waitFor();

    await page.getByRole('button', { name: 'Next' }).click();
    await summary.filter({ hasText: `11–${FINISHED_CALLS + 1} of ${FINISHED_CALLS + 1}` }).waitFor();
    assert.equal(await page.getByTestId('history').locator('tbody tr').count(), FINISHED_CALLS + 1 - 10);
    assert.equal(await page.getByRole('button', { name: 'Next' }).isDisabled(), true);
    await browser.screenshot(page, '05-history-page-2');
    await page.getByRole('button', { name: 'Previous' }).click();
    await summary.filter({ hasText: '1–10 of' }).waitFor();
    assert.ok(supervisedSid);
  });

  test('analytics charts the calls: totals, top agents, calls per day and busiest hours', async () => {
    await page.goto(`${s.url}/app/#/analytics`);
    const cards = page.getByTestId('summary');
    await cards.getByText(String(FINISHED_CALLS + 1), { exact: true }).waitFor();
    for (const chart of ['calls-per-day', 'minutes-per-day', 'busiest-hours-utc-', 'top-agents', 'ava-calls-per-day', 'ava-minutes-per-day', 'ava-busiest-hours-utc-']) {
      await page.getByTestId(`chart-${chart}`).locator('.recharts-bar-rectangle, .recharts-line-curve').first().waitFor();
    }
    await browser.screenshot(page, '06-analytics');
  });

  test('the platform admin picks a tenant and then sees its lines', async () => {
    const admin = await browser.newPage();
    admin.setDefaultTimeout(UI_TIMEOUT);
    await admin.goto(`${s.url}/app/`);
    await admin.getByLabel('API key').fill(s.adminKey);
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await admin.getByRole('heading', { name: 'Tenants' }).waitFor();
    assert.match(await admin.getByTestId('who').textContent() ?? '', /platform admin · pick a tenant/);
    const tenant = admin.getByTestId('tenants').locator(`tbody tr[data-row="${a.tenantId}"]`);
    await tenant.getByRole('button', { name: 'Act for' }).click();
    await row(admin, 'lines', 'Front desk').waitFor();
    assert.match(await admin.getByTestId('who').textContent() ?? '', /acting for/);
    await browser.screenshot(admin, '07-admin-acting-for-tenant');
    await admin.close();
  });

  test("an agent's login signs in: a manager sees the tenant, a plain agent is told there is nothing to manage", async () => {
    const person = async (username: string, permission: number) => {
      const r = await s.request('POST', '/v1.0/agents', { key: a.key, body: { name: username, username, password: 'pw-123456', permission } });
      assert.equal(r.status, 200, r.text);
    };
    await person('mona-manager', 64);
    await person('pat-plain', 16);
    for (const [username, sees] of [['mona-manager', 'manager'], ['pat-plain', 'plain']] as const) {
      const p = await browser.newPage();
      p.setDefaultTimeout(UI_TIMEOUT);
      await p.goto(`${s.url}/app/`);
      await p.getByRole('tab', { name: 'Agent login' }).click();
      await p.getByLabel('Username').fill(username);
      await p.getByLabel('Password').fill('pw-123456');
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByTestId('who').filter({ hasText: username }).waitFor();
      if (sees === 'manager') {
        await row(p, 'lines', 'Front desk').waitFor();
      } else {
        await p.getByText('nothing here for it to manage').waitFor();
        assert.equal(await p.getByRole('link', { name: 'Lines' }).count(), 0);
        await browser.screenshot(p, '08-plain-agent');
      }
      await p.close();
    }
  });

  test('no page logged any other console error or threw', () => {
    assert.deepEqual(browser.errors, []);
  });
});
