import { importJWK, jwtVerify, type JWTPayload } from 'jose';
import { expect } from 'vitest';
import { createDidJwkResolver } from '../../src/did/jwk';
import { createDidResolver } from '../../src/did/resolver';
import { createDidWebResolver } from '../../src/did/web';
import { createWebCryptoProvider } from '../../src/crypto/webCrypto';
import { createAgentProof } from '../../src/protocol/kya/agentProof';
import { verifyKyaToken, type VerifyKyaOptions } from '../../src/verifier/kya';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';

/**
 * The KYA flow as a holder's wallet, its agent and a merchant run it, over real HTTP against an
 * issuer at `base` (Node or workerd). Nothing here calls the issuer's code: requests go over the
 * network, and the token is checked by `jose` against the did:web document the issuer serves.
 */
export interface KyaClient {
  base: string;
  /** Seconds, on the issuer's clock. */
  now: () => number;
}

/** A holder with a fresh KCC from the issuer at `base` (the reference wallet, hosted form, approved at once). */
export async function holderWithKcc(client: KyaClient, holder?: Holder): Promise<{ holder: Holder; kcc: string }> {
  const h = holder ?? (await Holder.create());
  const wallet = new WalletClient(h, (u, i) => fetch(u, i), { now: client.now });
  const r = await applyForKcc(wallet, { issuer: client.base, identity: SAMPLE_IDENTITY, pollAttempts: 0 });
  if (!r.credential) throw new Error('no KCC issued');
  return { holder: h, kcc: r.credential };
}

/** A fresh issuer nonce from the Nonce Endpoint. */
export async function issuerNonce(client: KyaClient): Promise<string> {
  const res = await fetch(`${client.base}/oid4vci/nonce`, { method: 'POST' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { c_nonce: string }).c_nonce;
}

/** The PFI DID of the issuer at `base` (from its did:web document). */
export async function issuerDid(client: KyaClient): Promise<string> {
  return ((await (await fetch(`${client.base}/.well-known/did.json`)).json()) as { id: string }).id;
}

/** A presentation of `credentials` by `holder` over a fresh issuer nonce, the issuer as audience. */
export async function presentation(
  client: KyaClient,
  holder: Holder,
  credentials: string[],
  options: { audience?: string; nonce?: string; now?: number } = {},
) {
  return holder.createPresentation({
    credentials,
    audience: options.audience ?? (await issuerDid(client)),
    nonce: options.nonce ?? (await issuerNonce(client)),
    now: options.now ?? client.now(),
  });
}

export async function postKya(client: KyaClient, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${client.base}/kya/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = { text };
  }
  return { status: res.status, body: json, headers: res.headers };
}

/** Mints a token for `agent` (200 expected) with the request members given. */
export async function mintFor(
  client: KyaClient,
  holder: Holder,
  kcc: string,
  agent: Holder,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  const r = await postKya(
    client,
    { vp_token: await presentation(client, holder, [kcc]), aid: { name: 'Grocery reorder agent' }, cnf: { jwk: agent.signer.publicJwk }, ...extra },
    headers,
  );
  if (r.status !== 200) throw new Error(`KYA token refused: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { kya_token: string; token_type: string; expires_in: number };
}

/**
 * Verifies a KYA token with jose, an independent JWT library: the key is the verification method
 * its `kid` names in the did:web document served at `base`; typ must be kya+jwt.
 */
export async function verifyWithJose(
  client: KyaClient,
  token: string,
): Promise<{ payload: JWTPayload & Record<string, any>; header: Record<string, unknown> }> {
  const doc = (await (await fetch(`${client.base}/.well-known/did.json`)).json()) as {
    id: string;
    verificationMethod: { id: string; publicKeyJwk: Record<string, string> }[];
    assertionMethod: string[];
  };
  const [headerPart] = token.split('.');
  const kid = JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8')).kid as string;
  const method = doc.verificationMethod.find((m) => m.id === kid);
  if (!method) throw new Error(`kid ${kid} is not in the DID document`);
  expect(doc.assertionMethod).toContain(kid);
  const alg = method.publicKeyJwk.crv === 'Ed25519' ? 'EdDSA' : 'ES256K';
  const key = await importJWK(method.publicKeyJwk, alg);
  const { payload, protectedHeader } = await jwtVerify(token, key, { issuer: doc.id, typ: 'kya+jwt', currentDate: new Date(client.now() * 1000) });
  // jose is not vacuous: the same token with one claim changed is refused.
  const [h, p, s] = token.split('.');
  const forged = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  forged.aid.name = 'Something else';
  await expect(jwtVerify(`${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${s}`, key)).rejects.toThrow(/signature/i);
  return { payload: payload as JWTPayload & Record<string, any>, header: protectedHeader as Record<string, unknown> };
}

/** Our verifier as a merchant runs it: did:web over loopback http, status lists fetched over HTTP. */
export function merchantOptions(client: KyaClient, trusted: string): Omit<VerifyKyaOptions, 'agentProof'> {
  return {
    resolver: createDidResolver({
      registry: { ...createDidJwkResolver(), ...createDidWebResolver({ fetch: (u, i) => fetch(u, i), allowHttp: true, allowIpHosts: true }) },
    }),
    verifier: createWebCryptoProvider(),
    now: client.now(),
    trustedIssuers: [trusted],
    fetchStatusList: async (url) => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return (await res.text()).trim();
    },
  };
}

/** The agent calls a merchant: the KYA token plus a DPoP-shaped proof for this request, verified by the merchant. */
export async function merchantVerifies(
  client: KyaClient,
  trusted: string,
  token: string,
  agent: Holder,
  request = { htm: 'POST', htu: 'https://shop.example/checkout' },
) {
  const proof = await createAgentProof(agent.signer, { kyaToken: token, ...request, now: client.now() });
  return verifyKyaToken(token, { ...merchantOptions(client, trusted), agentProof: { proof, ...request } });
}
