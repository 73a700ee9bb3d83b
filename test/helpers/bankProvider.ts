import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';

/**
 * A PFI's online-banking login for the tests: panva's oidc-provider on loopback, with test
 * customers and the claims a bank would release (address.country, a KYC tier, the checks its
 * KYC did). Its development interactions are the login and consent pages; `signInAtBank`
 * drives them over HTTP with a cookie jar, as the applicant's webview would.
 */

export interface BankCustomer {
  address?: { country?: string; locality?: string };
  kyc_tier?: string;
  kyc_checks?: string[];
  kyc_verified_at?: number;
  name?: string;
  /** Workforce providers (the console's SSO): the groups scope's claim, and what must never reach our logs. */
  groups?: string[];
  email?: string;
}

export interface BankClient {
  client_id: string;
  client_secret?: string;
  token_endpoint_auth_method: 'client_secret_basic' | 'private_key_jwt';
  jwks?: { keys: JWK[] };
  redirect_uris: string[];
}

export interface TestBank {
  issuer: string;
  /** The provider's signing key (private): lets a test forge a token exactly as the bank would sign it. */
  signingKey: { privateJwk: JWK; kid: string };
  customers: Record<string, BankCustomer>;
  close(): Promise<void>;
}

/** Starts a bank provider on 127.0.0.1; `idTokenTtlSeconds` short so an expiry test stays fast. */
export async function startTestBank(options: {
  customers: Record<string, BankCustomer>;
  clients: BankClient[];
  idTokenTtlSeconds?: number;
  /** Extra scopes and the claims each releases (a workforce provider's `groups`). */
  scopeClaims?: Record<string, string[]>;
}): Promise<TestBank> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `bank-key-${Math.random().toString(36).slice(2, 8)}`;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const provider = new Provider(issuer, {
    clients: options.clients.map((c) => ({ grant_types: ['authorization_code'], response_types: ['code'], ...c })),
    jwks: { keys: [privateJwk] },
    async findAccount(_ctx: unknown, id: string) {
      const customer = options.customers[id];
      if (!customer) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...customer }) };
    },
    claims: { openid: ['sub'], address: ['address'], profile: ['name'], kyc: ['kyc_tier', 'kyc_checks', 'kyc_verified_at'], ...options.scopeClaims },
    scopes: ['openid', 'address', 'profile', 'kyc', ...Object.keys(options.scopeClaims ?? {})],
    ttl: { IdToken: options.idTokenTtlSeconds ?? 60, AccessToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
    cookies: { keys: ['bank-cookie-key-0123456789abcdef'] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    // Error pages as JSON, so a failing test shows the provider's reason.
    renderError(ctx: { type: string; body: string }, out: Record<string, string>) {
      ctx.type = 'json';
      ctx.body = JSON.stringify(out);
    },
  });
  server.on('request', provider.callback());
  return {
    issuer,
    signingKey: { privateJwk, kid },
    customers: options.customers,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A private_key_jwt client's key pair: the public JWK registered at the bank, the private one in our settings. */
export async function clientKeyPair(): Promise<{ publicJwk: JWK; privateJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = 'kcc-issuer-client-key';
  return { publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }, privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' } };
}

/**
 * The applicant in the bank's login: follows redirects from the authorization URL, signs in as
 * `account`, consents, and returns the URL the bank sends the browser back to (our callback),
 * without loading it. `cancel` uses the bank's "abort" link on the login page instead.
 */
export async function signInAtBank(authorizationUrl: string, redirectUri: string, account: string, opts: { cancel?: boolean } = {}): Promise<string> {
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const keep = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now()));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  };
  let url = authorizationUrl;
  for (let step = 0; step < 12; step++) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: cookie() } });
    keep(res);
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location') as string, url).href;
      if (next.startsWith(redirectUri)) return next;
      url = next;
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`bank answered ${res.status}: ${html.slice(0, 300)}`);
    const uid = /\/interaction\/([^/?#]+)/.exec(url)?.[1];
    if (!uid) throw new Error(`unexpected bank page at ${url}`);
    const origin = new URL(url).origin;
    if (opts.cancel) {
      url = `${origin}/interaction/${uid}/abort`;
      continue;
    }
    const login = html.includes('name="prompt" value="login"');
    const body = login ? new URLSearchParams({ prompt: 'login', login: account, password: 'any' }) : new URLSearchParams({ prompt: 'consent' });
    const post = await fetch(`${origin}/interaction/${uid}`, { method: 'POST', body, redirect: 'manual', headers: { cookie: cookie() } });
    keep(post);
    if (post.status < 300 || post.status >= 400)
      throw new Error(`bank ${login ? 'login' : 'consent'} answered ${post.status}: ${(await post.text()).slice(0, 300)}`);
    url = new URL(post.headers.get('location') as string, url).href;
  }
  throw new Error('too many steps at the bank');
}
