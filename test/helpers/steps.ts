import { decodeJwt } from '../../src/crypto/jwt';
import { WalletClient, type IdvRequest, type SiopRequest, type TokenResponse } from '../../src/wallet/client';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { ADMIN_TOKEN, PUBLIC_URL, type makeTestIssuer } from './issuer';

export type TestIssuer = Awaited<ReturnType<typeof makeTestIssuer>>;

export const PRE_AUTH = 'urn:ietf:params:oauth:grant-type:pre-authorized_code';

/** Step-by-step access to the flow, for tests that break one step. */
export async function walletFor(t: TestIssuer, holder?: Holder) {
  const h = holder ?? (await Holder.create());
  const client = new WalletClient(h, t.fetch);
  return { holder: h, client };
}

export async function getSiopRequest(t: TestIssuer, client: WalletClient): Promise<SiopRequest> {
  const pfi = await client.discover(PUBLIC_URL);
  return client.initiate(pfi.idvEndpoint, pfi);
}

export async function postIdToken(t: TestIssuer, idToken: string, as: 'json' | 'form' = 'json') {
  const url = `${PUBLIC_URL}/idv/siopv2/response`;
  const init: RequestInit =
    as === 'json'
      ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id_token: idToken }) }
      : { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ id_token: idToken }).toString() };
  const res = await t.fetch(url, init);
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

export async function openApplication(t: TestIssuer, holder?: Holder) {
  const { holder: h, client } = await walletFor(t, holder);
  const request = await getSiopRequest(t, client);
  const idvRequest = await client.respond(request);
  return { holder: h, client, idvRequest, code: idvRequest.credential_offer.grants[PRE_AUTH]['pre-authorized_code'] };
}

export async function submitIdentity(t: TestIssuer, client: WalletClient, idvRequest: IdvRequest, identity: Record<string, string> = SAMPLE_IDENTITY) {
  return client.submitIdvForm(idvRequest.url, identity);
}

export async function tokenRequest(t: TestIssuer, body: Record<string, string>, as: 'json' | 'form' = 'json') {
  const init: RequestInit =
    as === 'json'
      ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
      : { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() };
  const res = await t.fetch(`${PUBLIC_URL}/oauth2/token`, init);
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

export async function redeem(t: TestIssuer, holder: Holder, code: string): Promise<TokenResponse> {
  const r = await tokenRequest(t, { grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: holder.did });
  if (r.status !== 200) throw new Error(`token failed: ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function credentialRequest(t: TestIssuer, accessToken: string | undefined, body: unknown) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  const res = await t.fetch(`${PUBLIC_URL}/oid4vci/credential`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

export async function deferredRequest(t: TestIssuer, accessToken: string, transactionId: string) {
  const res = await t.fetch(`${PUBLIC_URL}/oid4vci/deferred-credential`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ transaction_id: transactionId }),
  });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

export async function proofBody(holder: Holder, nonce: string, audience = PUBLIC_URL) {
  return { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: await holder.createProofJwt({ audience, nonce }) } };
}

export async function admin(t: TestIssuer, method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await t.fetch(`${PUBLIC_URL}/admin${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

/** Application id from the access token's grant (for operator calls). */
export async function applicationIdOf(t: TestIssuer, accessToken: string): Promise<string> {
  const jti = decodeJwt(accessToken).payload.jti as string;
  const record = await t.deps.store.accessTokens.get(jti);
  return record!.applicationId;
}
