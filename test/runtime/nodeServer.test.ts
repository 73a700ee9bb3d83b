import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import { silentLogger } from '../../src/http/context';
import { startNodeIssuer } from '../../src/runtime/node';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { PUBLIC_URL, makeTestIssuer } from '../helpers/issuer';
import { openApplication, redeem, submitIdentity } from '../helpers/steps';

describe('over real HTTP (npm start-style Node server on loopback)', () => {
  it('runs the whole flow, persists its key, and keeps its DID across restarts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kcc-http-'));
    try {
      const issuer = await startNodeIssuer({ port: 0, dataDir, logger: silentLogger, config: { adminToken: 'x'.repeat(32) } });
      const holder = await Holder.create();
      const r = await applyForKcc(new WalletClient(holder, (u, i) => fetch(u, i)), { issuer: issuer.url, identity: SAMPLE_IDENTITY });
      const kcc = decodeJwt(r.credential!);
      expect(kcc.payload.sub).toBe(holder.did);
      expect(kcc.payload.iss).toBe(`did:web:localhost%3A${issuer.port}`);
      const kid = kcc.header.kid;
      await issuer.close();
      await new Promise((r) => setTimeout(r, 50)); // let the client's pool see the closed keep-alive sockets
      const again = await startNodeIssuer({ port: issuer.port, dataDir, logger: silentLogger });
      const doc = (await (await fetch(`${again.url}/.well-known/did.json`)).json()) as any;
      expect(doc.verificationMethod[0].id).toBe(kid);
      expect(again.sqlite.prepare('SELECT count(*) AS n FROM issued_credentials').get()).toEqual({ n: 1 });
      expect(again.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
      await again.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** Raw HTTP/1.1 over one socket: the request as written, the whole response as text. */
function rawRequest(port: number, request: string | Buffer[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let response = '';
    socket.on('data', (d) => (response += d.toString('latin1')));
    socket.on('end', () => resolve(response));
    socket.on('close', () => resolve(response));
    socket.on('error', (e) => (response ? resolve(response) : reject(e)));
    socket.on('connect', () => {
      for (const part of typeof request === 'string' ? [Buffer.from(request, 'latin1')] : request) socket.write(part);
      socket.end();
    });
  });
}

describe('request bodies read from the socket (Node runtime, src/runtime/nodeBody.ts)', () => {
  it('reads chunked bodies, refuses an oversized chunked body with 413, and keeps serving', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kcc-body-'));
    try {
      const issuer = await startNodeIssuer({ port: 0, dataDir, logger: silentLogger, config: { maxBodyBytes: 4096 } });
      const chunked = (body: string) => {
        const chunks = body.match(/[\s\S]{1,1000}/g) ?? [];
        return `${chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('')}0\r\n\r\n`;
      };
      const post = (body: string) =>
        rawRequest(
          issuer.port,
          `POST /oauth2/token HTTP/1.1\r\nHost: localhost:${issuer.port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked(body)}`,
        );
      // Under the limit, in several chunks: read whole, so the grant is judged (an unknown code).
      const small = await post(
        JSON.stringify({
          grant_type: 'urn:ietf:params:oauth:grant-type:pre-authorized_code',
          'pre-authorized_code': 'A'.repeat(43),
          padding: 'z'.repeat(2500),
        }),
      );
      expect(small).toMatch(/^HTTP\/1\.1 400 /);
      expect(small).toContain('"error":"invalid_grant"');
      // Over the limit with no Content-Length: capped while reading.
      const large = await post(JSON.stringify({ grant_type: 'x', padding: 'y'.repeat(20_000) }));
      expect(large).toMatch(/^HTTP\/1\.1 413 /);
      expect(large).toContain('"error":"invalid_request"');
      // A declared length over the limit: refused before the body is read.
      const declared = await rawRequest(
        issuer.port,
        `POST /oauth2/token HTTP/1.1\r\nHost: localhost:${issuer.port}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n{}`,
      );
      expect(declared).toMatch(/^HTTP\/1\.1 413 /);
      // A client that goes away mid-body leaves the server serving.
      await rawRequest(
        issuer.port,
        `POST /oauth2/token HTTP/1.1\r\nHost: localhost:${issuer.port}\r\nContent-Type: application/json\r\nContent-Length: 3000\r\n\r\n{"grant_type":`,
      );
      expect((await fetch(`${issuer.url}/.well-known/oauth-authorization-server`)).status).toBe(200);
      await issuer.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('every answer carries its request id and nosniff, set on the ServerResponse, beside the handler’s own headers', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kcc-headers-'));
    try {
      const issuer = await startNodeIssuer({ port: 0, dataDir, logger: silentLogger, config: { maxBodyBytes: 4096 } });
      const answers = {
        json: await fetch(`${issuer.url}/.well-known/openid-credential-issuer`, { headers: { 'x-request-id': 'abc<script> X: y' } }),
        did: await fetch(`${issuer.url}/.well-known/did.json`),
        html: await fetch(`${issuer.url}/idv/finish.html`),
        notFound: await fetch(`${issuer.url}/nope`),
        error: await fetch(`${issuer.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
        tooLarge: await fetch(`${issuer.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(10_000) }),
      };
      const ids = new Set<string>();
      for (const [name, r] of Object.entries(answers)) {
        expect({ name, nosniff: r.headers.get('x-content-type-options') }).toEqual({ name, nosniff: 'nosniff' });
        const id = r.headers.get('x-request-id');
        expect(id, name).toMatch(/^[\w.-]{1,64}$/);
        ids.add(id!);
        await r.arrayBuffer();
      }
      expect(ids.size).toBe(Object.keys(answers).length); // one per request
      // A caller's id is echoed only in a safe form; the handler's headers are all still there.
      expect(answers.json.headers.get('x-request-id')).toBe('abcscriptXy');
      expect(answers.json.headers.get('access-control-allow-origin')).toBe('*');
      expect(answers.json.headers.get('content-type')).toMatch(/^application\/json/);
      expect(answers.html.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(answers.error.status).toBe(400);
      expect(answers.error.headers.get('cache-control')).toBe('no-store');
      expect(answers.tooLarge.status).toBe(413);
      await issuer.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('HTTP hygiene', () => {
  it('unknown routes and methods get JSON 404s', async () => {
    const t = await makeTestIssuer();
    const r = await t.fetch(`${PUBLIC_URL}/nope`);
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ error: 'not_found', error_description: 'no such endpoint' });
    expect((await t.fetch(`${PUBLIC_URL}/oauth2/token`)).status).toBe(404);
  });

  it('malformed bodies get JSON 4xx errors, never a 500 or a stack trace', async () => {
    const t = await makeTestIssuer();
    const { holder, code } = await openApplication(t);
    const token = await redeem(t, holder, code);
    const endpoints = ['/idv/siopv2/response', '/oauth2/token', '/oid4vci/credential', '/oid4vci/deferred-credential'];
    const bodies: Array<[string, string]> = [
      ['application/json', '{"unterminated'],
      ['application/json', '[1,2,3]'],
      ['application/json', 'null'],
      ['application/json', '"string"'],
      ['text/plain', 'hello'],
      ['application/x-www-form-urlencoded', '%E0%A4%A'],
      ['application/json', '\xff\xfe'],
    ];
    for (const path of endpoints) {
      for (const [type, body] of bodies) {
        const res = await t.fetch(`${PUBLIC_URL}${path}`, {
          method: 'POST',
          headers: { 'content-type': type, authorization: `Bearer ${token.access_token}` },
          body,
        });
        const text = await res.text();
        expect({ path, type, body, status: res.status >= 400 && res.status < 500 }).toEqual({ path, type, body, status: true });
        const json = JSON.parse(text);
        expect(typeof json.error).toBe('string');
        expect(text).not.toMatch(/at .*\.ts:\d+/);
      }
    }
  });

  it('oversized bodies get 413 in JSON', async () => {
    const t = await makeTestIssuer();
    const res = await t.fetch(`${PUBLIC_URL}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ x: 'a'.repeat(100_000) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error).toBe('invalid_request');
  });

  it('serves OID4VCI and OAuth metadata per the spec', async () => {
    const t = await makeTestIssuer();
    const ci = (await (await t.fetch(`${PUBLIC_URL}/.well-known/openid-credential-issuer`)).json()) as any;
    expect(ci).toMatchObject({
      credential_issuer: PUBLIC_URL,
      credential_endpoint: `${PUBLIC_URL}/oid4vci/credential`,
      deferred_credential_endpoint: `${PUBLIC_URL}/oid4vci/deferred-credential`,
    });
    const kcc = ci.credential_configurations_supported.KnownCustomerCredential;
    expect(kcc).toMatchObject({
      format: 'jwt_vc_json',
      cryptographic_binding_methods_supported: ['did:web', 'did:jwk', 'did:dht'],
      credential_signing_alg_values_supported: ['EdDSA'],
      proof_types_supported: { jwt: { proof_signing_alg_values_supported: ['EdDSA', 'ES256K'] } },
      credential_definition: { type: ['VerifiableCredential', 'KnownCustomerCredential'] },
    });
    expect(kcc.display[0].name).toBe('Known Customer Credential');
    const as = (await (await t.fetch(`${PUBLIC_URL}/.well-known/oauth-authorization-server`)).json()) as any;
    expect(as).toMatchObject({ issuer: PUBLIC_URL, token_endpoint: `${PUBLIC_URL}/oauth2/token`, 'pre-authorized_grant_anonymous_access_supported': true });
  });

  it('logs no PII and no secrets during a whole flow (deferred, with operator approval)', async () => {
    const lines: string[] = [];
    const logger = {
      info: (e: string, f?: object) => lines.push(JSON.stringify({ e, ...f })),
      warn: (e: string, f?: object) => lines.push(JSON.stringify({ e, ...f })),
      error: (e: string, f?: object) => lines.push(JSON.stringify({ e, ...f })),
    };
    const t = await makeTestIssuer({ logger });
    const identity = { ...SAMPLE_IDENTITY, given_name: 'Zebedee', family_name: 'Review', birthdate: '1971-07-13', document_number: 'QZ987654' };
    const { holder, client, idvRequest, code } = await openApplication(t);
    await submitIdentity(t, client, idvRequest, identity);
    const token = await redeem(t, holder, code);
    const log = lines.join('\n');
    expect(lines.length).toBeGreaterThan(5);
    for (const secret of [
      identity.given_name,
      identity.birthdate,
      identity.document_number,
      code,
      token.access_token,
      token.c_nonce,
      idvRequest.url.split('/').pop()!,
    ]) {
      expect(log).not.toContain(secret);
    }
  });
});
