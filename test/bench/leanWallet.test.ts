import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeanHttp, LeanHttpError, splitHttpUrl, type LeanHttp, type LeanTransport } from '../../bench/leanHttp';
import { LeanFlowError, PfiKeyCache, runLeanFlow } from '../../bench/leanWallet';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { startHttpIssuer, verifyKccIndependently, type HttpIssuer, type RecordedRequest } from '../helpers/httpIssuer';

/**
 * The bench's lean wallet (bench/leanWallet.ts) over real loopback HTTP: it completes the same
 * flow as the reference wallet (same requests, same token shapes), its credentials verify, and a
 * tampered step fails the flow instead of being counted.
 */
let issuer: HttpIssuer;
const timings: string[] = [];
const clients: Record<LeanTransport, LeanHttp> = {} as Record<LeanTransport, LeanHttp>;

beforeAll(async () => {
  issuer = await startHttpIssuer();
  for (const transport of ['net', 'node:http'] as const)
    clients[transport] = createLeanHttp({ maxSockets: 4, transport, onTiming: (label) => timings.push(label) });
});
afterAll(async () => {
  for (const c of Object.values(clients)) c.close();
  await issuer?.close();
});

/** Verifies a JWT with the issuer's DID document key named by its kid (node:crypto, fetched anew). */
async function verifyWithIssuerDidKey(jwt: string) {
  const [h, p, s] = jwt.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  const doc = (await (await fetch(`${issuer.url}/.well-known/did.json`)).json()) as {
    id: string;
    verificationMethod: { id: string; publicKeyJwk: Record<string, string> }[];
  };
  expect(doc.id).toBe(issuer.deps.issuer.did);
  const vm = doc.verificationMethod.find((v) => v.id === header.kid || `${doc.id}${v.id}` === header.kid);
  expect(vm).toBeDefined();
  const key = createPublicKey({ key: vm!.publicKeyJwk, format: 'jwk' });
  return verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'));
}

/** A recorded request as a comparable shape: the form token hidden, JWT claim and header names kept. */
function wireShape(r: RecordedRequest) {
  const route = r.path.startsWith('/idv/form/') ? '/idv/form/:token' : r.path;
  let tokens: unknown;
  if (r.body && r.contentType?.startsWith('application/json')) {
    const body = JSON.parse(r.body);
    const jwt: string | undefined = body.id_token ?? body.proof?.jwt;
    if (jwt) {
      const [h, p] = jwt
        .split('.')
        .slice(0, 2)
        .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
      tokens = { bodyKeys: Object.keys(body), header: h, claims: Object.keys(p) };
    } else tokens = { bodyKeys: Object.keys(body) };
  } else if (r.body) tokens = { formKeys: [...new URLSearchParams(r.body).keys()] };
  return { request: `${r.method} ${route}`, contentType: r.contentType, status: r.status, tokens };
}

/** Header values that differ per holder (kid) are normalised so two flows compare. */
const normalise = (shapes: ReturnType<typeof wireShape>[]) => JSON.stringify(shapes).replace(/did:jwk:[\w-]+/g, 'did:jwk:…');

describe.each(['net', 'node:http'] as const)('lean bench wallet over %s', (transport) => {
  const http = () => clients[transport];

  it('completes flows whose credentials verify against the issuer DID key, one fresh holder each', async () => {
    const keys = new PfiKeyCache();
    timings.length = 0;
    const results = await Promise.all([1, 2, 3].map(() => runLeanFlow({ issuer: issuer.url, http: http(), keys, verifyCredentialSignature: true })));
    expect(new Set(results.map((r) => r.holderDid)).size).toBe(3);
    for (const r of results) {
      expect(r.holderDid).toMatch(/^did:jwk:/);
      expect(r.pfiDid).toBe(issuer.deps.issuer.did);
      expect(r.credentialPayload.sub).toBe(r.holderDid);
      expect(await verifyWithIssuerDidKey(r.credential)).toBe(true);
    }
    await verifyKccIndependently(issuer, results[0].credential, results[0].holderDid);
    // Every request of the flow, every time: 10 per flow, one per endpoint.
    expect(timings.length).toBe(30);
    expect(new Set(timings)).toEqual(
      new Set([
        'GET /.well-known/did.json',
        'GET /idv/siopv2/initiate',
        'POST /idv/siopv2/response',
        'GET /idv/form/:token',
        'POST /idv/form/:token',
        'GET /idv/approved/finish.html',
        'GET /.well-known/oauth-authorization-server',
        'GET /.well-known/openid-credential-issuer',
        'POST /oauth2/token',
        'POST /oid4vci/credential',
      ]),
    );
  });

  it('sends what the reference wallet sends: same requests, content types, JWT headers and claims', async () => {
    const crypto = createNodeCryptoProvider();
    let from = issuer.requests.length;
    const holder = await Holder.create({ crypto });
    const reference = await applyForKcc(new WalletClient(holder, globalThis.fetch.bind(globalThis), { crypto }), {
      issuer: issuer.url,
      identity: SAMPLE_IDENTITY,
    });
    expect(reference.credential).toBeDefined();
    const referenceWire = issuer.requests.slice(from).map(wireShape);
    from = issuer.requests.length;
    await runLeanFlow({ issuer: issuer.url, http: http(), keys: new PfiKeyCache() });
    const leanWire = issuer.requests.slice(from).map(wireShape);
    expect(leanWire).toHaveLength(10);
    // The two metadata GETs go out together; their order on the wire is not the wallet's choice.
    const order = (shapes: ReturnType<typeof wireShape>[]) => [...shapes].sort((a, b) => a.request.localeCompare(b.request));
    expect(normalise(order(leanWire))).toBe(normalise(order(referenceWire)));
  });

  it('fails the flow when a step is tampered with (the server refuses it)', async () => {
    const keys = new PfiKeyCache();
    const wrongNonce = runLeanFlow({ issuer: issuer.url, http: http(), keys, tamper: { idToken: { nonce: 'not-the-request-nonce' } } });
    await expect(wrongNonce).rejects.toBeInstanceOf(LeanFlowError);
    await expect(wrongNonce).rejects.toMatchObject({ step: 'siop_response', status: 400 });
    const wrongAudience = runLeanFlow({ issuer: issuer.url, http: http(), keys, tamper: { proof: { aud: 'did:web:elsewhere.example' } } });
    await expect(wrongAudience).rejects.toMatchObject({ step: 'credential', status: 400 });
    const wrongCNonce = runLeanFlow({ issuer: issuer.url, http: http(), keys, tamper: { proof: { nonce: 'stale' } } });
    await expect(wrongCNonce).rejects.toMatchObject({ step: 'credential' });
  });

  it('refuses a SIOP request object that the PFI DID document key did not sign', async () => {
    // A stand-in DID document: the issuer's, with the same kid but another Ed25519 key.
    const doc = (await (await fetch(`${issuer.url}/.well-known/did.json`)).json()) as { verificationMethod: { publicKeyJwk: Record<string, string> }[] };
    const otherX = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x as string;
    for (const vm of doc.verificationMethod) if (vm.publicKeyJwk.crv === 'Ed25519') vm.publicKeyJwk.x = otherX;
    const stub: Server = createServer((req, res) => {
      res.writeHead(req.url === '/.well-known/did.json' ? 200 : 404, { 'content-type': 'application/did+json' }).end(JSON.stringify(doc));
    });
    const port = await new Promise<number>((ok) => stub.listen(0, '127.0.0.1', () => ok((stub.address() as AddressInfo).port)));
    try {
      const keys = new PfiKeyCache();
      await runLeanFlow({ issuer: issuer.url, http: http(), keys }); // caches the real key under its kid
      await expect(runLeanFlow({ issuer: `http://127.0.0.1:${port}`, http: http(), keys })).rejects.toMatchObject({
        step: 'siop_request',
        message: expect.stringMatching(/signature/),
      });
    } finally {
      await new Promise((ok) => stub.close(ok));
    }
  });
});

describe('lean HTTP client (node:net)', () => {
  let server: Server;
  let base: string;
  let connections = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (req.url === '/chunked') {
          res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly']);
          res.write('hello, ');
          setTimeout(() => res.end('chunked world'), 5);
        } else if (req.url === '/echo') {
          res.writeHead(201, { 'content-type': 'text/plain', 'x-len': req.headers['content-length'] ?? '' }).end(`${req.method} ${body}`);
        } else if (req.url === '/close') {
          res.writeHead(200, { connection: 'close', 'content-length': '2' }).end('ok');
        } else if (req.url === '/until-close') {
          req.socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nbody until close');
        } else if (req.url === '/cut') {
          req.socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort');
        } else if (req.url === '/redirect') {
          res.writeHead(303, { location: '/done' }).end();
        } else res.writeHead(404).end();
      });
    });
    server.on('connection', () => connections++);
    const port = await new Promise<number>((ok) => server.listen(0, '127.0.0.1', () => ok((server.address() as AddressInfo).port)));
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('reads chunked, Content-Length, close-delimited and empty bodies; keeps the connection alive', async () => {
    const http = createLeanHttp({ maxSockets: 1 });
    try {
      connections = 0;
      const chunked = await http.send('GET', `${base}/chunked`);
      expect(chunked.status).toBe(200);
      expect(chunked.body.toString()).toBe('hello, chunked world');
      expect(chunked.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
      const echo = await http.send('POST', `${base}/echo`, { 'content-type': 'text/plain' }, 'grüße');
      expect(echo.status).toBe(201);
      expect(echo.headers['x-len']).toBe(String(Buffer.byteLength('grüße')));
      expect(echo.body.toString()).toBe('POST grüße');
      const redirect = await http.send('POST', `${base}/redirect`);
      expect(redirect.status).toBe(303);
      expect(redirect.headers.location).toBe('/done');
      expect(redirect.body.length).toBe(0);
      expect(connections).toBe(1); // one keep-alive connection for all of the above
      expect((await http.send('GET', `${base}/close`)).body.toString()).toBe('ok');
      expect((await http.send('GET', `${base}/until-close`)).body.toString()).toBe('body until close');
      expect((await http.send('GET', `${base}/nothing`)).status).toBe(404);
      expect(connections).toBe(3); // the server closed twice: new connections, no stale reuse
    } finally {
      http.close();
    }
  });

  it('queues requests beyond maxSockets and answers each on its own', async () => {
    const http = createLeanHttp({ maxSockets: 2 });
    try {
      connections = 0;
      const bodies = await Promise.all(Array.from({ length: 9 }, (_, i) => http.send('POST', `${base}/echo`, {}, `n${i}`).then((r) => r.body.toString())));
      expect(bodies).toEqual(Array.from({ length: 9 }, (_, i) => `POST n${i}`));
      expect(connections).toBeLessThanOrEqual(2);
    } finally {
      http.close();
    }
  });

  it('rejects a truncated response and refuses header injection', async () => {
    const http = createLeanHttp({ maxSockets: 1 });
    try {
      await expect(http.send('GET', `${base}/cut`)).rejects.toThrow(/closed before the response was complete/);
      expect((await http.send('POST', `${base}/echo`, {}, 'after')).body.toString()).toBe('POST after'); // the pool recovered
      await expect(http.send('GET', `${base}/echo`, { cookie: 'a=1\r\nx-evil: 1' })).rejects.toThrow(LeanHttpError);
      await expect(http.send('GET', `${base}/a b`)).rejects.toThrow(LeanHttpError);
    } finally {
      http.close();
    }
  });

  it('splits plain http URLs without WHATWG URL', () => {
    expect(splitHttpUrl('http://127.0.0.1:8080/a/b?c=d')).toEqual({ authority: '127.0.0.1:8080', hostname: '127.0.0.1', port: 8080, path: '/a/b?c=d' });
    expect(splitHttpUrl('http://localhost')).toEqual({ authority: 'localhost', hostname: 'localhost', port: 80, path: '/' });
    expect(splitHttpUrl('http://[::1]:9/x')).toEqual({ authority: '[::1]:9', hostname: '::1', port: 9, path: '/x' });
    expect(() => splitHttpUrl('https://example.com/')).toThrow(LeanHttpError);
    expect(() => splitHttpUrl('http://host:99999/')).toThrow(LeanHttpError);
  });
});
