import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WalletClient } from '../../src/wallet/client';
import { Holder } from '../../src/wallet/holder';
import { credentialOfferUri, parseCredentialOfferUri, terminalQr } from '../../src/wallet/offer';
import { startHttpIssuer, type HttpIssuer } from '../helpers/httpIssuer';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('kcc-wallet offer: the credential offer as a URI and a terminal QR code', () => {
  let issuer: HttpIssuer;
  let dir: string;
  beforeAll(async () => {
    issuer = await startHttpIssuer();
    dir = mkdtempSync(join(tmpdir(), 'kcc-offer-'));
  });
  afterAll(async () => {
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the offer the issuer made, its QR code, and the offer can be redeemed with the same key', async () => {
    const keyFile = join(dir, 'holder.json');
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin', 'kcc-wallet.js'), 'offer', issuer.url, '--key-file', keyFile], { cwd: ROOT });
    const [uri, ...rest] = stdout.split('\n');
    expect(uri.startsWith('openid-credential-offer://?credential_offer=')).toBe(true);
    expect(stderr).toContain('idv_submitted');

    // The offer the issuer answered the SIOPv2 response with, byte for byte after decoding.
    const siop = issuer.requests.find((r) => r.path === '/idv/siopv2/response' && r.status === 200);
    const made = JSON.parse(siop!.response!).credential_offer;
    expect(parseCredentialOfferUri(uri)).toEqual(made);
    expect(made.credential_issuer).toBe(issuer.url);

    const qr = rest.join('\n').trimEnd();
    expect(qr.length).toBeGreaterThan(100);
    expect(qr).toBe(terminalQr(uri).trimEnd());

    // A wallet holding the same key takes over from the offer: token, then the credential.
    const holder = await Holder.create({ alg: 'EdDSA', privateJwk: JSON.parse(readFileSync(keyFile, 'utf8')) });
    const wallet = new WalletClient(holder, (u, i) => fetch(u, i));
    const offer = parseCredentialOfferUri(uri);
    const { authorizationServer, credentialIssuer } = await wallet.metadata(offer.credential_issuer);
    const token = await wallet.token(
      authorizationServer.token_endpoint,
      offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'],
    );
    const credential = await wallet.credential(credentialIssuer.credential_endpoint, token.access_token, issuer.deps.issuer.did, token.c_nonce);
    expect(credential.status).toBe(200);
    expect(typeof credential.credential).toBe('string');
  });

  it('--skip-form leaves the IDV form to a person: its URL on stderr, the offer on stdout', async () => {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin', 'kcc-wallet.js'), 'offer', issuer.url, '--skip-form'], { cwd: ROOT });
    expect(stderr).toMatch(new RegExp(`IDV form .*: ${issuer.url}/idv/form/[\\w-]{43}`));
    expect(stderr).not.toContain('idv_submitted');
    expect(parseCredentialOfferUri(stdout.split('\n')[0]).credential_issuer).toBe(issuer.url);
  });

  it('the QR code is deterministic for the URI and differs between URIs', () => {
    const offer = {
      credential_issuer: 'https://pfi.example',
      credential_configuration_ids: ['KnownCustomerCredential'],
      grants: { 'urn:ietf:params:oauth:grant-type:pre-authorized_code': { 'pre-authorized_code': 'a'.repeat(43) } },
    };
    const uri = credentialOfferUri(offer);
    expect(parseCredentialOfferUri(uri)).toEqual(offer);
    const qr = terminalQr(uri);
    expect(qr).toBe(terminalQr(uri));
    expect(qr.split('\n').length).toBeGreaterThan(20);
    expect(qr).toMatch(/^[\u2580\u2584\u2588 \n]+$/);
    const other = credentialOfferUri({
      ...offer,
      grants: { 'urn:ietf:params:oauth:grant-type:pre-authorized_code': { 'pre-authorized_code': 'b'.repeat(43) } },
    });
    expect(terminalQr(other)).not.toBe(qr);
    expect(() => parseCredentialOfferUri('https://pfi.example/?credential_offer=x')).toThrow();
  });
});
