import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Resolver } from 'did-resolver';
import { createDidWebResolver, didWebUrl } from '../../src/did/web.js';
import { createSafeFetch, SafeFetchError } from '../../src/runtime/safeFetch.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function listen(handler: Handler): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('didWebUrl (did:web spec §3.2)', () => {
  it.each([
    ['did:web:example.com', 'https://example.com/.well-known/did.json'],
    ['did:web:Example.COM', 'https://example.com/.well-known/did.json'],
    ['did:web:example.com:user:alice', 'https://example.com/user/alice/did.json'],
    ['did:web:localhost%3A8443', 'https://localhost:8443/.well-known/did.json'],
    ['did:web:localhost%3a8443:a:b', 'https://localhost:8443/a/b/did.json'],
    ['did:web:example.com:u%20x', 'https://example.com/u%20x/did.json'],
  ])('%s → %s', (did, url) => expect(didWebUrl(did)).toBe(url));

  it('supports http and IP hosts for dev only', () => {
    expect(didWebUrl('did:web:127.0.0.1%3A8080', { scheme: 'http', allowIpHosts: true })).toBe('http://127.0.0.1:8080/.well-known/did.json');
    expect(didWebUrl('did:web:%5B%3A%3A1%5D', { allowIpHosts: true })).toBe('https://[::1]/.well-known/did.json');
  });

  it.each(['did:web:127.0.0.1', 'did:web:8.8.8.8', 'did:web:%5B%3A%3A1%5D', 'did:web:2130706433', 'did:web:0x7f000001', 'did:web:example.0x7f'])(
    'refuses IP-address host %s by default (did:web §3.1)',
    (did) => expect(() => didWebUrl(did)).toThrow(/IP address/),
  );

  it.each([
    'did:web:',
    'did:web:example.com:',
    'did:web:example.com::alice',
    'did:web::example.com',
    'did:web:example.com:..',
    'did:web:example.com:%2E%2E',
    'did:web:example.com:a%2Fb',
    'did:web:user%40example.com',
    'did:web:example.com%2F..%2Fx',
    'did:web:example.com:%zz',
    'did:web:example.com:%E0%A4%A',
    'did:web:example.com%3A',
    'did:web:example.com%3A99999',
    'did:web:-bad-.com',
    'did:web:exa_mple.com',
    'did:web:example.com#frag',
    'did:key:z6Mk',
  ])('rejects %s', (did) => expect(() => didWebUrl(did)).toThrow());
});

describe('did:web resolution over loopback', () => {
  let server: http.Server;
  let port: number;
  let host: string;
  const docs = new Map<string, { body: string; type?: string; delayMs?: number }>();

  beforeAll(async () => {
    ({ server, port } = await listen((req, res) => {
      const d = docs.get(req.url ?? '');
      if (!d) {
        res.writeHead(404).end();
        return;
      }
      const send = () => res.writeHead(200, { 'content-type': d.type ?? 'application/did+json' }).end(d.body);
      if (d.delayMs) setTimeout(send, d.delayMs);
      else send();
    }));
    host = `127.0.0.1%3A${port}`;
    const did = `did:web:${host}`;
    docs.set('/.well-known/did.json', { body: JSON.stringify({ id: did, verificationMethod: [] }) });
    docs.set('/user/alice/did.json', { body: JSON.stringify({ id: `${did}:user:alice` }), type: 'application/json; charset=utf-8' });
    docs.set('/mismatch/did.json', { body: JSON.stringify({ id: 'did:web:evil.example' }) });
    docs.set('/html/did.json', { body: JSON.stringify({ id: `${did}:html` }), type: 'text/html' });
    docs.set('/big/did.json', { body: JSON.stringify({ id: `${did}:big`, pad: 'x'.repeat(70 * 1024) }) });
    docs.set('/slow/did.json', { body: JSON.stringify({ id: `${did}:slow` }), delayMs: 1500 });
    docs.set('/notjson/did.json', { body: '{not json' });
  });
  afterAll(() => close(server));

  const devResolver = (timeoutMs?: number) =>
    new Resolver(
      createDidWebResolver({ fetch: createSafeFetch({ allowPrivate: true, allowHttp: true }), allowHttp: true, ...(timeoutMs ? { timeoutMs } : {}) }),
    );

  it('round trip: host with port', async () => {
    const did = `did:web:${host}`;
    const r = await devResolver().resolve(did);
    expect(r.didResolutionMetadata.error).toBeUndefined();
    expect(r.didDocument).toEqual({ id: did, verificationMethod: [] });
  });

  it('round trip: path form, and DID URL fragments are ignored', async () => {
    const did = `did:web:${host}:user:alice`;
    const r = await devResolver().resolve(`${did}#key-1`);
    expect(r.didDocument?.id).toBe(did);
  });

  it.each([
    ['mismatch', 'invalidDidDocument'],
    ['html', 'invalidDidDocument'],
    ['notjson', 'invalidDidDocument'],
    ['big', 'notFound'],
    ['missing', 'notFound'],
  ])('refuses %s → %s', async (path, error) => {
    const r = await devResolver().resolve(`did:web:${host}:${path}`);
    expect(r.didDocument).toBeNull();
    expect(r.didResolutionMetadata.error).toBe(error);
  });

  it('times out on a slow server', async () => {
    const t0 = Date.now();
    const r = await devResolver(200).resolve(`did:web:${host}:slow`);
    expect(r.didResolutionMetadata.error).toBe('notFound');
    expect(r.didResolutionMetadata.message).toMatch(/ERR_TIMEOUT/);
    expect(Date.now() - t0).toBeLessThan(1400);
  });

  it('safeFetch enforces its own maxBytes and timeout', async () => {
    const f = createSafeFetch({ allowPrivate: true, allowHttp: true, maxBytes: 1024, timeoutMs: 200 });
    await expect(f(`http://127.0.0.1:${port}/big/did.json`)).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' });
    await expect(f(`http://127.0.0.1:${port}/slow/did.json`)).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 50);
    await expect(
      createSafeFetch({ allowPrivate: true, allowHttp: true })(`http://127.0.0.1:${port}/slow/did.json`, { signal: ctrl.signal }),
    ).rejects.toMatchObject({
      code: 'ERR_ABORTED',
    });
    const ok = await f(`http://127.0.0.1:${port}/.well-known/did.json`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/did+json');
  });

  it('invalid identifiers → invalidDid, never throws', async () => {
    const res = createDidWebResolver({ fetch: createSafeFetch() });
    const r = await res.web('did:web:example.com:..', { did: 'did:web:example.com:..', didUrl: '', method: 'web', id: 'example.com:..' }, new Resolver(), {});
    expect(r.didResolutionMetadata.error).toBe('invalidDid');
  });
});

describe('SSRF protection with the default safeFetch', () => {
  const ipForms = [
    'did:web:127.0.0.1',
    'did:web:10.0.0.1',
    'did:web:169.254.169.254',
    'did:web:%5B%3A%3A1%5D',
    'did:web:%5B%3A%3Affff%3A127.0.0.1%5D',
    'did:web:%5B%3A%3Affff%3A7f00%3A1%5D',
    'did:web:2130706433',
    'did:web:0x7f000001',
    'did:web:0177.0.0.1',
  ];

  it.each(ipForms)('default resolver refuses %s as invalidDid', async (did) => {
    const r = await new Resolver(createDidWebResolver({ fetch: createSafeFetch() })).resolve(did);
    expect(r.didDocument).toBeNull();
    expect(r.didResolutionMetadata.error).toBe('invalidDid');
  });

  // Even when the resolver lets IP hosts through, the default safeFetch refuses them.
  const ipResolver = new Resolver(createDidWebResolver({ fetch: createSafeFetch({ timeoutMs: 2000 }), allowIpHosts: true }));
  it.each([...ipForms, 'did:web:localhost', 'did:web:localhost%3A8443:user:alice'])('safeFetch refuses %s', async (did) => {
    const r = await ipResolver.resolve(did);
    expect(r.didDocument).toBeNull();
    expect(r.didResolutionMetadata.error).toBe('notFound');
    expect(r.didResolutionMetadata.message).toMatch(/ERR_SSRF_BLOCKED/);
  });

  it.each([
    'https://127.0.0.1/',
    'https://10.0.0.1/',
    'https://169.254.169.254/latest/meta-data/',
    'https://[::1]/',
    'https://[::ffff:127.0.0.1]/',
    'https://[::ffff:7f00:1]/',
    'https://2130706433/',
    'https://0x7f000001/',
    'https://0177.0.0.1/',
    'https://[fe80::1]/',
    'https://[64:ff9b::a00:1]/',
    'https://[2002:7f00:1::1]/',
    'https://localhost/',
    'https://user:pw@example.com/',
  ])('default safeFetch refuses %s', async (url) => {
    await expect(createSafeFetch({ timeoutMs: 2000 })(url)).rejects.toMatchObject({ code: 'ERR_SSRF_BLOCKED' });
  });

  it('refuses plain http by default', async () => {
    await expect(createSafeFetch()('http://example.com/')).rejects.toMatchObject({ code: 'ERR_SCHEME' });
    await expect(createSafeFetch()('file:///etc/passwd')).rejects.toMatchObject({ code: 'ERR_SCHEME' });
  });

  it('checks addresses at connect time (DNS answer for a name)', async () => {
    const f = createSafeFetch({ allowHttp: true, lookup: async () => [{ address: '10.1.2.3', family: 4 }] });
    const err = await f('http://rebind.example/').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SafeFetchError);
    expect((err as SafeFetchError).code).toBe('ERR_SSRF_BLOCKED');
  });

  it('refuses if any resolved address is private', async () => {
    const f = createSafeFetch({
      allowHttp: true,
      lookup: async () => [
        { address: '93.184.216.34', family: 4 },
        { address: '::1', family: 6 },
      ],
    });
    await expect(f('http://mixed.example/')).rejects.toMatchObject({ code: 'ERR_SSRF_BLOCKED' });
  });
});

describe('redirects are re-checked on every hop', () => {
  let target: { server: http.Server; port: number };
  let redirector: { server: http.Server; port: number };
  let hitTarget = 0;

  beforeAll(async () => {
    target = await listen((_req, res) => {
      hitTarget++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    redirector = await listen((req, res) => {
      const to: Record<string, string> = {
        '/to-127-0-0-2': `http://127.0.0.2:${target.port}/`,
        '/to-name': `http://internal.example:${target.port}/`,
        '/to-self': `http://127.0.0.1:${redirector.port}/ok`,
        '/loop': `/loop`,
        '/to-https-downgrade': `ftp://127.0.0.1/`,
      };
      if (req.url === '/ok') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return;
      }
      res.writeHead(302, { location: to[`/${(req.url ?? '').split('/')[1]}`] ?? '/ok' }).end();
    });
  });
  afterAll(async () => {
    await close(target.server);
    await close(redirector.server);
  });

  // Test policy: only 127.0.0.1 counts as "public"; everything else is refused.
  const policyFetch = () =>
    createSafeFetch({
      allowHttp: true,
      isAllowedAddress: (ip) => ip === '127.0.0.1',
      lookup: async (h) => (h === 'internal.example' ? [{ address: '127.0.0.3', family: 4 }] : [{ address: '127.0.0.1', family: 4 }]),
    });

  it('follows an allowed redirect', async () => {
    const res = await policyFetch()(`http://127.0.0.1:${redirector.port}/to-self`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(res.redirected).toBe(true);
  });

  it('refuses a redirect to a refused IP literal', async () => {
    await expect(policyFetch()(`http://127.0.0.1:${redirector.port}/to-127-0-0-2`)).rejects.toMatchObject({ code: 'ERR_SSRF_BLOCKED' });
    expect(hitTarget).toBe(0);
  });

  it('refuses a redirect to a name that resolves to a refused address', async () => {
    await expect(policyFetch()(`http://127.0.0.1:${redirector.port}/to-name`)).rejects.toMatchObject({ code: 'ERR_SSRF_BLOCKED' });
    expect(hitTarget).toBe(0);
  });

  it('refuses a redirect to another scheme and caps redirect loops', async () => {
    await expect(policyFetch()(`http://127.0.0.1:${redirector.port}/to-https-downgrade`)).rejects.toMatchObject({ code: 'ERR_SCHEME' });
    await expect(policyFetch()(`http://127.0.0.1:${redirector.port}/loop`)).rejects.toMatchObject({ code: 'ERR_TOO_MANY_REDIRECTS' });
  });

  it('redirect: manual returns the 3xx response', async () => {
    const res = await policyFetch()(`http://127.0.0.1:${redirector.port}/to-127-0-0-2`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`http://127.0.0.2:${target.port}/`);
  });

  it('did:web resolution refuses a redirect to loopback', async () => {
    const resolver = new Resolver(createDidWebResolver({ fetch: policyFetch(), allowHttp: true }));
    const r = await resolver.resolve(`did:web:127.0.0.1%3A${redirector.port}:to-127-0-0-2`);
    expect(r.didResolutionMetadata.error).toBe('notFound');
    expect(r.didResolutionMetadata.message).toMatch(/ERR_SSRF_BLOCKED/);
  });
});
