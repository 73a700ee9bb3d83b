import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, PUBLIC_URL, makeTestIssuer, testClock } from '../helpers/issuer';

/** Attacks on the review console's session: a copied cookie must stop working when the session ends. */
type T = Awaited<ReturnType<typeof makeTestIssuer>>;

async function login(t: T, operator = 'Bob', token = ADMIN_TOKEN): Promise<string> {
  const res = await t.app.request(`${PUBLIC_URL}/console/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ operator, token }).toString(),
  });
  expect(res.status).toBe(303);
  return (res.headers.get('set-cookie') ?? '').split(';')[0];
}

/** 200 for a live session, else where the console sends the browser. */
async function queue(t: T, cookie: string): Promise<string> {
  const res = await t.app.request(`${PUBLIC_URL}/console`, { headers: { cookie } });
  return res.status === 303 ? new URL(res.headers.get('location') as string, PUBLIC_URL).pathname : String(res.status);
}

async function csrfOf(t: T, cookie: string): Promise<string> {
  const html = await (await t.app.request(`${PUBLIC_URL}/console`, { headers: { cookie } })).text();
  return /name="csrf_token" value="([0-9a-f]+)"/.exec(html)?.[1] as string;
}

async function logout(t: T, cookie: string, everywhere = false) {
  const fields: Record<string, string> = { csrf_token: await csrfOf(t, cookie), ...(everywhere ? { everywhere: 'true' } : {}) };
  return t.app.request(`${PUBLIC_URL}/console/logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams(fields).toString(),
  });
}

describe('console sessions are server-side', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('a cookie copied before logout is no session after it (303 to the login page)', async () => {
    const t = await makeTestIssuer();
    const cookie = await login(t);
    expect(await queue(t, cookie)).toBe('200');
    expect((await logout(t, cookie)).status).toBe(303);
    expect(await queue(t, cookie)).toBe('/console/login');
    // A POST with the old cookie and its old CSRF token is refused too.
    const res = await t.app.request(`${PUBLIC_URL}/console/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: 'csrf_token=x',
    });
    expect(res.status).toBe(303);
  });

  it('the cookie is a random id: HttpOnly, SameSite=Strict, Secure on https, carrying neither name nor token', async () => {
    const t = await makeTestIssuer({ config: { publicUrl: 'https://issuer.test' } });
    const res = await t.app.request('https://issuer.test/console/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ operator: 'Bob', token: ADMIN_TOKEN }).toString(),
    });
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Secure/);
    const value = setCookie.split(';')[0].split('=')[1];
    expect(value).toMatch(/^[\w-]{43}$/);
    expect(Buffer.from(value, 'base64url').toString('latin1')).not.toContain('Bob');
  });

  it('"sign out everywhere" ends every session of that operator, not another operator\'s', async () => {
    const t = await makeTestIssuer();
    const laptop = await login(t, 'Bob');
    const stolen = await login(t, 'Bob');
    const alice = await login(t, 'Alice');
    expect((await logout(t, laptop, true)).status).toBe(303);
    expect(await queue(t, stolen)).toBe('/console/login');
    expect(await queue(t, laptop)).toBe('/console/login');
    expect(await queue(t, alice)).toBe('200');
  });

  it('ends after the idle timeout, and at the absolute timeout however active', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock, config: { idv: { consoleIdleSeconds: 600, consoleSessionSeconds: 3600 } } });
    const idle = await login(t, 'Bob');
    const busy = await login(t, 'Carol');
    for (let i = 0; i < 5; i++) {
      clock.advance(500);
      expect(await queue(t, busy)).toBe('200');
    }
    expect(await queue(t, idle)).toBe('/console/login');
    // 2500 s in; active every 500 s, yet over at 3600 s from sign-in.
    clock.advance(500);
    expect(await queue(t, busy)).toBe('200');
    clock.advance(600);
    expect(await queue(t, busy)).toBe('/console/login');
  });

  it('rotating ADMIN_TOKEN ends every session opened with the old one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-sessions-'));
    dirs.push(dir);
    const file = join(dir, 'db.sqlite');
    const before = await makeTestIssuer({ file });
    const cookie = await login(before);
    expect(await queue(before, cookie)).toBe('200');
    before.sqlite.close();
    const after = await makeTestIssuer({ file, config: { adminToken: 'rotated-admin-token-abcdefghijklmnopqrstuvwxyz' } });
    expect(await queue(after, cookie)).toBe('/console/login');
    after.sqlite.close();
    // Rotating back does not revive it: the session was ended when it was refused.
    const back = await makeTestIssuer({ file });
    expect(await queue(back, cookie)).toBe('/console/login');
    back.sqlite.close();
  });
});
