// The admin console in a real browser: Debian's chromium driven by playwright-core against the
// real binary with every plugin on loopback ports. Registered with CTest (tests/CMakeLists.txt):
//   node console-test.mjs <switchboard binary> <plugin dir> <screenshot dir>
// Screenshots go to <screenshot dir>; the exit code is the verdict.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const [binary, pluginDir, shots] = process.argv.slice(2);
if (!binary || !pluginDir || !shots) {
  console.error('usage: node console-test.mjs <switchboard> <plugin dir> <screenshot dir>');
  process.exit(2);
}
const browserPath = '/usr/bin/chromium';
if (!existsSync(browserPath)) {
  console.error(`${browserPath} is missing: run scripts/setup (Debian package chromium)`);
  process.exit(1);
}
const TOKEN = 'console-test-token';
const started = Date.now();
mkdirSync(shots, { recursive: true });

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'sb-console-'));
const ports = { pub: await freePort(), pairing: await freePort(), chat: await freePort(),
  admin: await freePort() };
writeFileSync(join(dir, 'switchboard.yaml'), `server:
  data_dir: ${dir}/var
  plugin_dirs: [${pluginDir}]
  shutdown_timeout: 2s
store: { url: "sqlite:${dir}/var/switchboard.db", flush_interval: 200ms }
listeners:
  public: { bind: 127.0.0.1, port: ${ports.pub} }
  pairing: { bind: 127.0.0.1, port: ${ports.pairing} }
  chat: { bind: 127.0.0.1, port: ${ports.chat}, protocol: stream,
          tls: { cert: ${dir}/var/tls/cert.pem, key: ${dir}/var/tls/key.pem } }
  admin: { bind: 127.0.0.1, port: ${ports.admin} }
admin: { token: ${TOKEN}, history_interval: 1s, history_window: 60s }
plugins:
  pairing: { listener: pairing }
  auth: { listener: public, jwt: { secret: "console-test-secret-0123456789abcdef" } }
  devices: { listener: public }
  signaling: { listener: public }
  messaging: { listener: chat }
`);

let log = '';
const server = spawn(binary, ['--config=' + join(dir, 'switchboard.yaml')], { cwd: dir });
server.stdout.on('data', (d) => { log += d; });
server.stderr.on('data', (d) => { log += d; });
const closed = new Promise((r) => server.once('close', r));  // its output read to the end
const admin = `http://127.0.0.1:${ports.admin}`;
const pub = `http://127.0.0.1:${ports.pub}`;

async function waitReady() {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(admin + '/readyz')).status === 200) return;
    } catch (e) { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the server did not become ready:\n' + log);
}

async function adminApi(path) {
  const r = await fetch(admin + path, { headers: { Authorization: 'Bearer ' + TOKEN } });
  return { status: r.status, body: await r.json() };
}

let browser;
let failed = false;
const steps = [];
async function step(name, fn) {
  const t = Date.now();
  await fn();
  steps.push(`${name} (${Date.now() - t} ms)`);
  console.log(`ok - ${name} (${Date.now() - t} ms)`);
}

try {
  await waitReady();
  browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const violations = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) violations.push(m.text());
  });
  page.on('pageerror', (e) => violations.push('page error: ' + e.message));
  const shot = (name) => page.screenshot({ path: join(shots, name + '.png'), fullPage: true });

  await step('a wrong token is refused', async () => {
    await page.goto(admin + '/');
    await page.locator('#login').waitFor();
    await page.fill('#token', 'not-the-token');
    await page.click('#login-form button[type=submit]');
    await page.locator('#login-error', { hasText: 'Wrong token.' }).waitFor();
    assert.equal(await page.locator('#app').isHidden(), true);
    await shot('login-refused');
  });

  await step('log in and see every plugin\'s state', async () => {
    await page.fill('#token', TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.locator('#plugins tbody tr').first().waitFor();
    const { body } = await adminApi('/admin/api/plugins');
    assert.equal(body.plugins.length, 5);
    for (const p of body.plugins) {
      const state = page.locator(`#plugins tr[data-plugin="${p.name}"] .state`);
      assert.equal(await state.textContent(), 'running', p.name);
    }
    // Every plugin's views are in the menu, from /admin/api/views.
    for (const title of ['Servers', 'Devices', 'Organizations', 'Online peers', 'Chat connections',
      'Users', 'Sessions']) {
      await page.locator('#nav a', { hasText: title }).first().waitFor();
    }
    await shot('overview');
  });

  await step('a rejected reload shows the config errors with file:line:key', async () => {
    const file = join(dir, 'switchboard.yaml');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('devices: { listener: public }',
      'devices: { listener: public, offline_after: soon }'));
    await page.click('#reload');
    const problem = page.locator('#reload-result .problems li').first();
    await problem.waitFor();
    assert.match(await problem.textContent(),
      /switchboard\.yaml:\d+: plugins\.devices\.offline_after: expected a duration/);
    await shot('reload-rejected');
    writeFileSync(file, good);
    await page.click('#reload');
    await page.locator('#reload-result', { hasText: 'Configuration reloaded.' }).waitFor();
  });

  await step('disable and re-enable a plugin', async () => {
    const { body } = await adminApi('/admin/api/plugins');
    if (!('override' in body.plugins[0])) {
      // The runtime toggle (POST /admin/api/plugins/{name}/disable) is another branch's: the
      // buttons answer its 404 until it is merged.
      console.log('# skipped: this build has no runtime plugin toggle (no "override" field)');
      return;
    }
    const row = page.locator('#plugins tr[data-plugin="pairing"]');
    await row.locator('button[data-action=disable]').click();
    await row.locator('.state', { hasText: 'disabled' }).waitFor();
    await shot('plugin-disabled');
    await row.locator('button[data-action=enable]').click();
    await row.locator('.state', { hasText: 'running' }).waitFor();
  });

  await step('watch a live event arrive', async () => {
    await page.click('#nav a[data-hash=events]');
    await page.fill('#event-topic', 'user.*');
    await page.press('#event-topic', 'Enter');
    await page.locator('#event-status', { hasText: 'live' }).waitFor();
    const r = await fetch(pub + '/register', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', password: 'correct horse battery', username: 'ada' }) });
    assert.equal(r.status, 201, await r.text());
    const item = page.locator('#event-list li[data-topic="user.created"]');
    await item.waitFor();
    assert.match(await item.textContent(), /ada@example\.com/);
    await page.click('#event-pause');
    await page.locator('#event-status', { hasText: 'paused' }).waitFor();
    await shot('events');
  });

  await step('enrol a device and find it in the list', async () => {
    await page.click('#nav a[data-hash="view/devices/devices"]');
    await page.locator('table[data-view="devices/devices"] thead').waitFor();
    await page.click('button[data-action="Enrol device"]');
    await page.fill('.action-form input[name=device_key]', 'browser-device-7');
    await page.fill('.action-form input[name=note]', 'rack 3');
    await page.click('.action-form button[type=submit]');
    const token = page.locator('#shown-once output[data-field=token_code]');
    await token.waitFor();
    assert.match(await token.textContent(), /^[0-9A-F]{6}$/);
    await shot('device-enrolled');
    await page.locator('#shown-once button', { hasText: 'Done' }).click();
    await page.fill('.toolbar input.search', 'device-7');
    const row = page.locator('table[data-view="devices/devices"] tbody tr', { hasText: 'browser-device-7' });
    await row.waitFor();
    assert.match(await row.textContent(), /rack 3/);
    await shot('devices');
    // A new one-time token, shown once as well.
    page.once('dialog', (d) => d.accept());
    await row.locator('button[data-action="New token"]').click();
    const again = page.locator('#shown-once output[data-field=token_code]');
    await again.waitFor();
    assert.match(await again.textContent(), /^[0-9A-F]{6}$/);
    await page.locator('#shown-once button', { hasText: 'Done' }).click();
  });

  await step('revoke a session', async () => {
    const login = await fetch(pub + '/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', password: 'correct horse battery' }) });
    assert.equal(login.status, 200);
    assert.equal((await adminApi('/admin/api/auth/sessions')).body.total, 1);
    await page.click('#nav a[data-hash="view/auth/sessions"]');
    const row = page.locator('table[data-view="auth/sessions"] tbody tr', { hasText: 'ada' });
    await row.waitFor();
    page.once('dialog', (d) => d.accept());
    await row.locator('button[data-action=Revoke]').click();
    await page.locator('#notice', { hasText: 'Revoke: done' }).waitFor();
    await page.locator('table[data-view="auth/sessions"] tbody', { hasText: 'Nothing here.' }).waitFor();
    assert.equal((await adminApi('/admin/api/auth/sessions')).body.total, 0);
  });

  await step('request charts from the server\'s counters', async () => {
    await page.click('#nav a[data-hash=charts]');
    await page.locator('#charts figure.route-chart').first().waitFor({ timeout: 5000 });
    assert.ok(await page.locator('#charts svg polyline').count() >= 2);
    await shot('charts');
  });

  await step('log out', async () => {
    await page.click('#logout');
    await page.locator('#login-error', { hasText: 'Logged out.' }).waitFor();
    const r = await page.evaluate(async () => (await fetch('/admin/api/plugins')).status);
    assert.equal(r, 401);
  });

  assert.deepEqual(violations, [], 'no CSP violation or script error');
} catch (e) {
  failed = true;
  console.error('FAILED:', e && e.stack ? e.stack : e);
  console.error('--- server log ---\n' + log);
} finally {
  if (browser) await browser.close();
  server.kill('SIGTERM');
  await closed;
  rmSync(dir, { recursive: true, force: true });
}
// Under the sanitizer build a server's memory error or undefined behaviour fails the test too.
for (const marker of ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:']) {
  if (log.includes(marker)) {
    failed = true;
    console.error('the server reported a sanitizer error:\n' + log);
    break;
  }
}
console.log(`${steps.length} passed, ${failed ? 1 : 0} failed (${Date.now() - started} ms)`);
process.exit(failed ? 1 : 0);
