/**
 * kcc-wallet: the reference wallet as a command.
 *
 *   kcc-wallet apply <issuer URL or did:web> [--given-name A] [--family-name B] [--birthdate YYYY-MM-DD]
 *                    [--country US] [--document-type passport] [--document-number X123]
 *                    [--alg EdDSA|ES256K] [--key-file holder.json] [--poll-seconds 60]
 *
 * Runs discovery → SIOPv2 → IDV form → token → credential (→ deferred polling) against any
 * issuer that implements the KCC spec, and prints the credential JWT on stdout (steps on stderr).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { JwsAlgorithm, PrivateJwk } from '../crypto/keys';
import { WalletClient, WalletError } from './client';
import { applyForKcc, SAMPLE_IDENTITY } from './flow';
import { Holder } from './holder';

const USAGE = `usage: kcc-wallet apply <issuer URL or did:web> [options]
  --given-name, --family-name, --birthdate, --country, --document-type, --document-number
                         identity data for the IDV form (sandbox test values by default)
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
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, issuer] = positionals;
  if (values.help || command !== 'apply' || !issuer) {
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
  const pollSeconds = Number(values['poll-seconds'] ?? 60);
  const result = await applyForKcc(new WalletClient(holder, (u, i) => fetch(u, i)), {
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

main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((e) => {
    const detail = e instanceof WalletError ? ` (HTTP ${e.status ?? '-'}: ${JSON.stringify(e.body)})` : '';
    console.error(`kcc-wallet: ${e instanceof Error ? e.message : e}${detail}`);
    process.exit(1);
  });
