// The browser test of examples/web-chat: headless Debian Chromium (playwright-core) opens the
// page served by heraldd as two users in separate browser contexts (separate localStorage, so
// separate devices) and walks through what a person would do. Run by
// tests/integration/test_web_chat.py, which starts heraldd and creates the users.
//
//   node web_chat_test.mjs --url http://127.0.0.1:PORT/ --ann ann:PASSWORD --bob bob:PASSWORD \
//        --group GROUP --grace 1 --artifacts DIR       (ann and bob both members of GROUP)
//
// Prints "ok: <step>" per step; exits 0 when every step passed, 1 at the first failure (with a
// screenshot of each page as web-chat-failure-*.png). Every wait is bounded (WAIT_MS).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const WAIT_MS = 10000;

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const k of ['url', 'ann', 'bob', 'group', 'grace', 'artifacts']) {
    if (!out[k]) throw new Error(`missing --${k}`);
  }
  const cred = (s) => ({ user: s.slice(0, s.indexOf(':')), password: s.slice(s.indexOf(':') + 1) });
  return { url: out.url, ann: cred(out.ann), bob: cred(out.bob), group: out.group, graceMs: Number(out.grace) * 1000, artifacts: out.artifacts };
}

const opt = args();
mkdirSync(opt.artifacts, { recursive: true });
const pageHost = new URL(opt.url).host;
const problems = [];  // requests that left the broker's host, page errors
const pages = {};     // name -> page, for the failure screenshots

function ok(step) {
  console.log(`ok: ${step}`);
}

async function newPage(context, name) {
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') console.log(`${name} console: ${m.text()}`); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    // blob: is MQTT.js's timer worker, made by the page itself.
    if (u.protocol !== 'blob:' && u.protocol !== 'data:' && u.host !== pageHost) {
      problems.push(`${name}: request outside the broker's host: ${r.url()}`);
    }
  });
  pages[name] = page;
  return page;
}

async function signIn(page, cred) {
  await page.goto(opt.url);
  await page.getByTestId('login-username').fill(cred.user);
  await page.getByTestId('login-password').fill(cred.password);
  await page.getByTestId('login-button').click();
}

async function online(page) {
  await page.locator('[data-testid=connection-state][data-state=online]').waitFor();
}

const contact = (page, user) => page.getByTestId(`contact-${user}`);

async function contactState(page, user, state) {
  await page.locator(`[data-testid="contact-${user}"][data-state="${state}"]`).waitFor();
}

async function sendTo(page, user, text) {
  await contact(page, user).click();
  await page.getByTestId('message-input').fill(text);
  await page.getByTestId('send-button').click();
  // data-state=sent: the broker acknowledged it, i.e. it is in the store (SPEC 5).
  await page.locator('[data-testid=message][data-dir=out][data-state=sent]', { hasText: text }).waitFor();
}

async function expectIncoming(page, from, text, { offline = false } = {}) {
  // A conversation not on screen shows an unread count first.
  const open = await contact(page, from).evaluate((n) => n.classList.contains('selected')).catch(() => false);
  if (!open) {
    await page.locator(`[data-testid="contact-${from}"] [data-testid=unread]`).waitFor();
    await contact(page, from).click();
  }
  const msg = page.locator(`[data-testid=message][data-dir=in][data-from="${from}"]`, { hasText: text });
  await msg.waitFor();
  const flag = await msg.getAttribute('data-offline');
  if (flag !== String(offline)) throw new Error(`message "${text}" has data-offline=${flag}, expected ${offline}`);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
let failed = false;
try {
  const annContext = await browser.newContext();
  const bobContext = await browser.newContext();
  const ann = await newPage(annContext, 'ann');
  let bob = await newPage(bobContext, 'bob');

  // A wrong password: the CONNACK reason code is shown on the page.
  await signIn(ann, { user: opt.ann.user, password: 'not-the-password' });
  await ann.getByTestId('login-error').filter({ hasText: '0x86' }).waitFor();
  ok(`wrong password shown: "${await ann.getByTestId('login-error').textContent()}"`);

  await signIn(ann, opt.ann);
  await online(ann);
  await signIn(bob, opt.bob);
  await online(bob);
  ok('both signed in over ws');

  await contactState(ann, opt.bob.user, 'online');
  await contactState(bob, opt.ann.user, 'online');
  ok('each sees the other online');

  // Status text travels through the retained presence record.
  await bob.getByTestId('status-select').selectOption('away');
  await bob.getByTestId('status-text').fill('at lunch');
  await bob.getByTestId('status-set').click();
  await ann.locator(`[data-testid="contact-${opt.bob.user}"][data-status=away]`, { hasText: 'at lunch' }).waitFor();
  ok('bob\'s status "away: at lunch" seen by ann');

  await sendTo(ann, opt.bob.user, 'hello bob, from ann');
  await expectIncoming(bob, opt.ann.user, 'hello bob, from ann');
  await sendTo(bob, opt.ann.user, 'hi ann, bob here');
  await expectIncoming(ann, opt.bob.user, 'hi ann, bob here');
  ok('direct messages both ways');

  // A group message: ann opens the group by name; bob's page lists it once a message came.
  await ann.getByTestId('group-input').fill(opt.group);
  await ann.getByTestId('group-open').click();
  await ann.getByTestId('message-input').fill('hello team');
  await ann.getByTestId('send-button').click();
  await ann.locator('[data-testid=message][data-dir=out][data-state=sent]', { hasText: 'hello team' }).waitFor();
  await bob.locator(`[data-testid="group-${opt.group}"] [data-testid=unread]`).waitFor();
  await bob.getByTestId(`group-${opt.group}`).click();
  await bob.locator(`[data-testid=message][data-dir=in][data-from="${opt.ann.user}"]`, { hasText: 'hello team' }).waitFor();
  await bob.getByTestId('message-input').fill('hi all');
  await bob.getByTestId('send-button').click();
  await ann.locator(`[data-testid=message][data-dir=in][data-from="${opt.bob.user}"]`, { hasText: 'hi all' }).waitFor();
  const echoes = await bob.locator('[data-testid=message]', { hasText: 'hi all' }).count();
  if (echoes !== 1) throw new Error(`bob's own group message shown ${echoes} times`);
  // A group she is not in: refused by the broker, said on the page, not listed.
  await ann.getByTestId('group-input').fill('not-her-group');
  await ann.getByTestId('group-open').click();
  await ann.getByTestId('notice').filter({ hasText: 'not a member of group not-her-group' }).waitFor();
  await ann.getByTestId('group-not-her-group').waitFor({ state: 'detached' });
  await contact(ann, opt.bob.user).click();
  ok(`group messages in ${opt.group}; a group she is not in refused`);

  // Ann's second browser: each of her pages lists both devices; signing out removes it.
  const ann2Context = await browser.newContext();
  const ann2 = await newPage(ann2Context, 'ann2');
  await signIn(ann2, opt.ann);
  await online(ann2);
  await ann.locator('[data-testid=devices] li').nth(1).waitFor();
  await ann2.locator('[data-testid=devices] li').nth(1).waitFor();
  const mine = await ann.locator('[data-testid=devices] li.this').count();
  if (mine !== 1) throw new Error(`ann's device list marks ${mine} devices as this browser`);
  await ann2.getByTestId('sign-out').click();
  await ann.locator('[data-testid=devices] li').nth(1).waitFor({ state: 'detached' });
  await contactState(bob, opt.ann.user, 'online');  // her first device is still there
  await ann2Context.close();
  ok('ann\'s own other device came and went in her device list');

  // Bob closes his page: no DISCONNECT, so ann sees him offline only after the grace period.
  const bobClientId = await bob.evaluate((u) => localStorage.getItem(`herald-web-chat.client-id.${u}`), opt.bob.user);
  const closedAt = Date.now();
  await bob.close();
  await contactState(ann, opt.bob.user, 'offline');
  const tookMs = Date.now() - closedAt;
  if (tookMs < opt.graceMs * 0.8) throw new Error(`bob shown offline after ${tookMs} ms, before the grace of ${opt.graceMs} ms`);
  const detail = await contact(ann, opt.bob.user).getByTestId('contact-detail').textContent();
  if (!detail.includes('last seen')) throw new Error(`offline contact detail without last seen: "${detail}"`);
  ok(`bob offline ${tookMs} ms after his page closed (grace ${opt.graceMs} ms): "${detail}"`);

  // A message while bob is away waits in his stream and arrives when he signs in again.
  await sendTo(ann, opt.bob.user, 'this waited for you');
  bob = await newPage(bobContext, 'bob');  // same context: same localStorage, same device
  await bob.goto(opt.url);
  const prefilled = await bob.getByTestId('login-username').inputValue();
  if (prefilled !== opt.bob.user) throw new Error(`user name not remembered: "${prefilled}"`);
  await bob.getByTestId('login-password').fill(opt.bob.password);
  await bob.getByTestId('login-button').click();
  await online(bob);
  await bob.locator(`[data-testid=devices] li.this[data-client-id="${bobClientId}"]`).waitFor();
  await expectIncoming(bob, opt.ann.user, 'this waited for you', { offline: true });
  // What he read before is still there (kept in this browser), and shown once.
  const earlier = await bob.locator('[data-testid=message]', { hasText: 'hello bob, from ann' }).count();
  if (earlier !== 1) throw new Error(`earlier message shown ${earlier} times after sign-in`);
  await contactState(ann, opt.bob.user, 'online');
  // His own group message (sent before, with No Local) is not news to him: no unread, shown once.
  await bob.getByTestId(`group-${opt.group}`).click();
  await bob.locator('[data-testid=message]', { hasText: 'hello team' }).waitFor();
  const own = await bob.locator('[data-testid=message]', { hasText: 'hi all' }).count();
  if (own !== 1) throw new Error(`bob's own group message shown ${own} times after sign-in`);
  await contact(bob, opt.ann.user).click();
  ok(`offline message delivered at sign-in to the same device (${bobClientId})`);

  await ann.screenshot({ path: path.join(opt.artifacts, 'web-chat-ann.png') });
  await bob.screenshot({ path: path.join(opt.artifacts, 'web-chat-bob.png') });
  ok(`screenshots in ${opt.artifacts}`);

  if (problems.length) throw new Error(problems.join('\n'));
} catch (e) {
  failed = true;
  console.log(`FAILED: ${e.message}`);
  for (const [name, page] of Object.entries(pages)) {
    if (!page.isClosed()) {
      await page.screenshot({ path: path.join(opt.artifacts, `web-chat-failure-${name}.png`) }).catch(() => {});
    }
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
