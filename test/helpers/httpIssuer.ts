import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { verifyCredential } from 'did-jwt-vc';
import { Resolver, type ResolverRegistry } from 'did-resolver';
import { expect } from 'vitest';
import type { IssuerConfigInput } from '../../src/config';
import type { IssuerKey } from '../../src/issuer';
import { ADMIN_TOKEN, makeTestIssuer } from './issuer';

/**
 * The issuer over real HTTP on 127.0.0.1 (port chosen by the OS), for wallet libraries that make
 * their own requests with the global fetch. In-memory SQLite, as makeTestIssuer.
 */
export async function startHttpIssuer(
  options: {
    /** The issuer's configuration; a function gets the issuer's URL (its port is known only once listening). */
    config?: Partial<IssuerConfigInput> | ((url: string) => Partial<IssuerConfigInput>);
    /** `localhost` names the issuer http://localhost:<port> (did:web:localhost%3A<port>); it still listens on 127.0.0.1. */
    host?: '127.0.0.1' | 'localhost';
    didMethods?: ResolverRegistry;
    /** Issuer keys (default: one fresh Ed25519 key). */
    keys?: IssuerKey[];
  } = {},
) {
  let appFetch: (req: Request) => Response | Promise<Response> = () => new Response('starting', { status: 503 });
  let server: ServerType | undefined;
  const port = await new Promise<number>((ok) => {
    server = serve({ fetch: (req) => appFetch(req), port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => ok(info.port));
  });
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  const config = typeof options.config === 'function' ? options.config(url) : options.config;
  const issuer = await makeTestIssuer({ config: { publicUrl: url, ...config }, didMethods: options.didMethods, keys: options.keys });
  /** What the wallet libraries sent and got, so tests can assert the wire (bodies of POSTs only). */
  const requests: RecordedRequest[] = [];
  appFetch = async (req) => {
    const body = req.method === 'POST' ? await req.clone().text() : undefined;
    const res = await issuer.app.fetch(req);
    const resBody = res.headers.get('content-type')?.includes('json') ? await res.clone().text() : undefined;
    requests.push({
      method: req.method,
      path: new URL(req.url).pathname,
      contentType: req.headers.get('content-type') ?? undefined,
      body,
      status: res.status,
      response: resBody,
    });
    return res;
  };
  const close = () => new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  return { ...issuer, url, port, close, requests, fetch: globalThis.fetch.bind(globalThis) };
}

export interface RecordedRequest {
  method: string;
  path: string;
  contentType?: string;
  body?: string;
  status: number;
  response?: string;
}

export type HttpIssuer = Awaited<ReturnType<typeof startHttpIssuer>>;

/** The operator approves the applicant's application that awaits manual review. */
export async function approveReviewOverHttp(issuer: HttpIssuer, applicantDid: string): Promise<void> {
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const list = (await (await fetch(`${issuer.url}/admin/applications?status=review`, { headers: auth })).json()) as {
    applications: { id: string; applicant_did: string }[];
  };
  const mine = list.applications.find((a) => a.applicant_did === applicantDid);
  if (!mine) throw new Error('no application in review for this applicant');
  const res = await fetch(`${issuer.url}/admin/applications/${mine.id}/decision`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ decision: 'approve' }),
  });
  if (res.status !== 200) throw new Error(`approval failed: ${res.status}`);
}

/**
 * A did-resolver for the verifier side: did:web over plain http for the loopback issuer only
 * (web-did-resolver insists on https). Everything else the independent library does itself.
 */
export function loopbackDidWebResolver(): Resolver {
  return new Resolver({
    web: async (did, parsed) => {
      const host = decodeURIComponent(parsed.id);
      if (!/^127\.0\.0\.1:\d+$/.test(host)) {
        return { didDocument: null, didDocumentMetadata: {}, didResolutionMetadata: { error: 'notFound' } };
      }
      const res = await fetch(`http://${host}/.well-known/did.json`);
      if (!res.ok) return { didDocument: null, didDocumentMetadata: {}, didResolutionMetadata: { error: 'notFound' } };
      return { didDocument: await res.json(), didDocumentMetadata: {}, didResolutionMetadata: { contentType: 'application/did+json' } };
    },
  });
}

/** True once the credential endpoint has opened a deferred transaction for this applicant. */
export async function hasTransaction(issuer: HttpIssuer, applicantDid: string): Promise<boolean> {
  const row = issuer.sqlite.prepare('SELECT count(*) AS n FROM transactions WHERE holder_did = ?').get(applicantDid) as { n: number };
  return row.n > 0;
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

/**
 * Verifies a KCC with did-jwt-vc (an independent verifier: its own JWT, VC and signature code),
 * resolving the issuer's did:web over loopback, and checks what a KCC verifier relies on.
 */
export async function verifyKccIndependently(issuer: HttpIssuer, jwt: string, holderDid: string) {
  const verified = await verifyCredential(jwt, loopbackDidWebResolver());
  expect(verified.verified).toBe(true);
  expect(verified.issuer).toBe(issuer.deps.issuer.did);
  expect(verified.verifiableCredential.type).toContain('KnownCustomerCredential');
  expect(verified.verifiableCredential.credentialSubject.id).toBe(holderDid);
  expect(verified.payload.sub).toBe(holderDid);
  // The verifier is not vacuous: the same KCC with one payload claim changed is refused.
  const [h, p, sig] = jwt.split('.');
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  payload.vc.credentialSubject.tier = 'Platinum';
  const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
  await expect(verifyCredential(forged, loopbackDidWebResolver())).rejects.toThrow(/signature/i);
  return verified;
}
