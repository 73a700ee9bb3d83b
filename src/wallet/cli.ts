/**
 * kcc-wallet: the reference wallet as a command.
 *
 *   kcc-wallet apply <issuer URL or did:web> [--given-name A] [--family-name B] [--birthdate YYYY-MM-DD]
 *                    [--country US] [--document-type passport] [--document-number X123]
 *                    [--alg EdDSA|ES256K] [--key-file holder.json] [--poll-seconds 60]
 *   kcc-wallet offer <issuer URL or did:web> [identity options] [--skip-form] [--alg …] [--key-file …]
 *
 * `apply` runs discovery → SIOPv2 → IDV form → token → credential (→ deferred polling) against
 * any issuer that implements the KCC spec, and prints the credential JWT on stdout (steps on stderr).
 * `offer` stops after the IDV form and prints the credential offer as an
 * `openid-credential-offer://` URI and a terminal QR code, for another wallet to redeem.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { JwsAlgorithm, PrivateJwk } from '../crypto/keys';
import { WalletClient, WalletError } from './client';
import { applyForKcc, SAMPLE_IDENTITY } from './flow';
import { Holder } from './holder';
import { credentialOfferUri, terminalQr } from './offer';

const USAGE = `usage: kcc-wallet apply <issuer URL or did:web> [options]
       kcc-wallet offer <issuer URL or did:web> [options]
  apply                  the whole flow; prints the credential JWT
  offer                  SIOPv2 and the IDV form, then prints the credential offer as an
                         openid-credential-offer:// URI and a QR code for a phone wallet. The
                         pre-authorized code is bound to this holder's DID: the wallet that
                         redeems it must prove possession of the same key (--key-file)
  --given-name, --family-name, --birthdate, --country, --document-type, --document-number
                         identity data for the IDV form (sandbox test values by default)
  --skip-form            offer: leave the IDV form to a person (its URL is printed); the
                         credential stays pending until it is submitted
  --alg EdDSA|ES256K     holder key type for a new did:jwk (default EdDSA)
  --key-file FILE        load/save the holder's private JWK (keeps the same DID across runs)
  --poll-seconds N       how long to poll the deferred endpoint (default 60)`;

async function main(argv: string[]) {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'given-name': { type: 'string' },
      'family-name': { type: 'string' },
      birthdate: { type: 'string' },
      country: { type: 'string' },
      'document-type': { type: 'string' },
      'document-number': { type: 'string' },
      alg: { type: 'string' },
      'key-file': { type: 'string' },
      'poll-seconds': { type: 'string' },
      'skip-form': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, issuer] = positionals;
  if (values.help || (command !== 'apply' && command !== 'offer') || !issuer) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const alg = (values.alg ?? 'EdDSA') as JwsAlgorithm;
  if (alg !== 'EdDSA' && alg !== 'ES256K') throw new Error('--alg must be EdDSA or ES256K');
  const keyFile = values['key-file'];
  let privateJwk: PrivateJwk | undefined;
  if (keyFile && existsSync(keyFile)) privateJwk = JSON.parse(readFileSync(keyFile, 'utf8'));
  const holder = await Holder.create({ alg, privateJwk });
  if (keyFile && !privateJwk) writeFileSync(keyFile, JSON.stringify(holder.privateJwk), { mode: 0o600 });
  console.error(`holder ${holder.did}`);
  const identity = {
    given_name: values['given-name'] ?? SAMPLE_IDENTITY.given_name,
    family_name: values['family-name'] ?? SAMPLE_IDENTITY.family_name,
    birthdate: values.birthdate ?? SAMPLE_IDENTITY.birthdate,
    country_of_residence: values.country ?? SAMPLE_IDENTITY.country_of_residence,
    document_type: values['document-type'] ?? SAMPLE_IDENTITY.document_type,
    document_number: values['document-number'] ?? SAMPLE_IDENTITY.document_number,
  };
  const client = new WalletClient(holder, (u, i) => fetch(u, i));
  if (command === 'offer') return offer(client, issuer, values['skip-form'] ? undefined : identity);
  const pollSeconds = Number(values['poll-seconds'] ?? 60);
  const result = await applyForKcc(client, {
    issuer,
    identity,
    pollIntervalMs: 2000,
    pollAttempts: Math.max(0, Math.ceil(pollSeconds / 2)),
    onStep: (s) => console.error(`✓ ${s.step} ${s.detail ? JSON.stringify(s.detail) : ''}`),
  });
  if (!result.credential) {
    console.error(`still pending: transaction_id ${result.transactionId}`);
    return 3;
  }
  console.log(result.credential);
  return 0;
}

/** discover → SIOPv2 → (IDV form) → the offer on stdout: the URI on the first line, then its QR code. */
async function offer(client: WalletClient, issuer: string, identity: Record<string, string> | undefined): Promise<number> {
  const pfi = await client.discover(issuer);
  console.error(`✓ discovered ${JSON.stringify({ pfiDid: pfi.did, idvEndpoint: pfi.idvEndpoint })}`);
  const request = await client.initiate(pfi.idvEndpoint, pfi);
  const idvRequest = await client.respond(request);
  console.error('✓ idv_request');
  if (identity) {
    const form = await client.submitIdvForm(idvRequest.url, identity);
    if (form.status !== 200 || !form.location?.endsWith('finish.html'))
      throw new WalletError('IDV form was not completed', form.status, form.body.slice(0, 500));
    console.error('✓ idv_submitted');
  } else {
    // The form URL is a bearer secret of this application: printed for the person who fills it in.
    console.error(`IDV form (open it in a browser and submit it): ${idvRequest.url}`);
  }
  const uri = credentialOfferUri(idvRequest.credential_offer);
  console.log(uri);
  console.log(terminalQr(uri));
  return 0;
}

main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((e) => {
    const detail = e instanceof WalletError ? ` (HTTP ${e.status ?? '-'}: ${JSON.stringify(e.body)})` : '';
    console.error(`kcc-wallet: ${e instanceof Error ? e.message : e}${detail}`);
    process.exit(1);
  });
