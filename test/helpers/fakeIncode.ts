import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';

/**
 * Incode's side, as a loopback server following its OIDC integration (the facts are in
 * docs/incode.md): `/oauth2/authorize` (the applicant's webview;
 * the outcome of the biometric flow is set by `prepare`), `/oauth2/token` (authorization
 * code, Client Secret Post or Basic, single-use codes bound to the redirect_uri),
 * `/oauth2/jwks`, `/userinfo` and the discovery document; and a webhook sender for the
 * unsigned deliveries the issuer must refuse.
 */
export interface Person {
  name?: string;
  birthdate?: string;
  country?: string;
}

export type Tamper = 'attacker_key' | 'wrong_audience' | 'wrong_issuer' | 'expired' | 'wrong_nonce' | 'userinfo_other_subject';

export interface Outcome {
  status: string;
  person?: Person;
  tamper?: Tamper;
}

interface Grant {
  clientId: string;
  redirectUri: string;
  nonce: string;
  outcome: Outcome;
  used: boolean;
}

export const JANE: Person = { name: 'JANE A. SMITH', birthdate: '1985-06-15', country: 'DE' };

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const id24 = () => randomBytes(12).toString('hex');

export async function startFakeIncode(options: { clientId: string; clientSecret: string }) {
  const incodeKey = await generateKeyPair('RS256', { extractable: true });
  const attackerKey = await generateKeyPair('RS256');
  const kid = 'incode-key-1';
  const jwk = { ...(await exportJWK(incodeKey.publicKey)), kid, alg: 'RS256', use: 'sig' };
  const redirectUris = new Set<string>();
  const grants = new Map<string, Grant>();
  const accessTokens = new Map<string, { sub: string; interviewId: string; person: Person; tamper?: Tamper }>();
  const requests: { method: string; path: string; authMethod?: 'client_secret_post' | 'client_secret_basic' }[] = [];
  const authorizations: URLSearchParams[] = [];
  let next: Outcome = { status: 'OK', person: JANE };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const entry: (typeof requests)[number] = { method: req.method ?? '', path: url.pathname };
    requests.push(entry);
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return send(200, {
        issuer,
        authorization_endpoint: `${issuer}/oauth2/authorize`,
        token_endpoint: `${issuer}/oauth2/token`,
        jwks_uri: `${issuer}/oauth2/jwks`,
        userinfo_endpoint: `${issuer}/userinfo`,
        end_session_endpoint: `${issuer}/connect/logout`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic', 'client_secret_jwt'],
      });
    }
    if (req.method === 'GET' && url.pathname === '/oauth2/authorize') {
      const q = url.searchParams;
      authorizations.push(q);
      const redirectUri = q.get('redirect_uri') ?? '';
      // "unrecognized URIs will result in an error": no redirect to an unregistered URI.
      if (q.get('client_id') !== options.clientId || !redirectUris.has(redirectUri)) return send(400, { error: 'invalid_request' });
      if (q.get('response_type') !== 'code' || !(q.get('scope') ?? '').split(' ').includes('openid')) return send(400, { error: 'invalid_request' });
      // The applicant completes document capture, liveness and face match here.
      const code = `code_${randomBytes(16).toString('base64url')}`;
      grants.set(code, { clientId: options.clientId, redirectUri, nonce: q.get('nonce') ?? '', outcome: next, used: false });
      next = { status: 'OK', person: JANE };
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      if (q.get('state') !== null) back.searchParams.set('state', q.get('state') as string);
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (req.method === 'GET' && url.pathname === '/oauth2/jwks') return send(200, { keys: [jwk] });
    if (req.method === 'POST' && url.pathname === '/oauth2/token') {
      const form = new URLSearchParams(await readBody(req));
      let clientId = form.get('client_id');
      let secret = form.get('client_secret');
      entry.authMethod = 'client_secret_post';
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
      if (basic) {
        const [id, pass] = Buffer.from(basic[1], 'base64')
          .toString('utf8')
          .split(':')
          .map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
        clientId = id;
        secret = pass;
        entry.authMethod = 'client_secret_basic';
      }
      if (clientId !== options.clientId || secret !== options.clientSecret) return send(401, { error: 'invalid_client' });
      if (form.get('grant_type') !== 'authorization_code') return send(400, { error: 'unsupported_grant_type' });
      const grant = grants.get(form.get('code') ?? '');
      if (!grant || grant.used || grant.redirectUri !== form.get('redirect_uri')) return send(400, { error: 'invalid_grant' });
      grant.used = true;
      const { outcome } = grant;
      const sub = id24();
      const interviewId = sub;
      const now = Math.floor(Date.now() / 1000);
      const iat = outcome.tamper === 'expired' ? now - 7200 : now;
      const idToken = await new SignJWT({
        identity_id: id24(),
        interview_id: interviewId,
        auth_overall_status: outcome.status,
        auth_overall_score: 0.0,
        nonce: outcome.tamper === 'wrong_nonce' ? 'some-other-nonce' : grant.nonce,
      })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .setIssuer(outcome.tamper === 'wrong_issuer' ? 'https://auth.attacker.example' : issuer)
        .setAudience(outcome.tamper === 'wrong_audience' ? 'someone-else' : grant.clientId)
        .setSubject(sub)
        .setIssuedAt(iat)
        .setExpirationTime(iat + 1800)
        .setJti(crypto.randomUUID())
        .sign(outcome.tamper === 'attacker_key' ? (attackerKey.privateKey as CryptoKey) : (incodeKey.privateKey as CryptoKey));
      const accessToken = `at_${randomBytes(16).toString('base64url')}`;
      accessTokens.set(accessToken, { sub, interviewId, person: outcome.person ?? {}, tamper: outcome.tamper });
      return send(200, { access_token: accessToken, id_token: idToken, token_type: 'Bearer', expires_in: 1800 }, { 'cache-control': 'no-store' });
    }
    if (req.method === 'GET' && url.pathname === '/userinfo') {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const grant = token ? accessTokens.get(token) : undefined;
      if (!grant) return send(401, { error: 'invalid_token' });
      const { person } = grant;
      return send(200, {
        sub: grant.tamper === 'userinfo_other_subject' ? id24() : grant.sub,
        identity_id: id24(),
        interview_id: grant.interviewId,
        ...(person.name !== undefined ? { name: person.name, given_name: person.name } : {}),
        ...(person.birthdate !== undefined ? { birthdate: person.birthdate } : {}),
        ...(person.country !== undefined ? { address: { country: person.country } } : {}),
        gender: 'F',
        locale: 'en-US',
        updated_at: Date.now(),
      });
    }
    send(404, {});
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    requests,
    authorizations,
    /** The redirect_uri values registered in the Workforce dashboard. */
    registerRedirectUri(uri: string) {
      redirectUris.add(uri);
    },
    /** What the next applicant's verification at /oauth2/authorize ends in. */
    prepare(outcome: Outcome) {
      next = outcome;
    },
    tokenRequests: () => requests.filter((r) => r.path === '/oauth2/token'),
    /** POSTs a result as a webhook would carry it: Incode documents no signature for it. */
    async deliverWebhook(webhookUrl: string, body: unknown, headers: Record<string, string> = {}) {
      const res = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      return res.status;
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
