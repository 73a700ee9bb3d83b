import { describe, expect, it } from 'vitest';
import { InvalidClient } from '../../src/protocol/errors';
import { PRE_AUTHORIZED_CODE_GRANT } from '../../src/protocol/oid4vci/metadata';
import { parseTokenRequest, tokenClientDid } from '../../src/protocol/oid4vci/tokenRequest';

describe('tokenClientDid (spec "Token Request", OID4VCI 1.0 §6.1)', () => {
  const request = (client_id?: string) =>
    parseTokenRequest({ grant_type: PRE_AUTHORIZED_CODE_GRANT, 'pre-authorized_code': 'code', ...(client_id ? { client_id } : {}) });

  it('is the applicant DID, or undefined when the wallet sent no client_id', () => {
    expect(tokenClientDid(request('did:jwk:abc'))).toBe('did:jwk:abc');
    expect(tokenClientDid(request())).toBeUndefined();
  });

  it('refuses a client_id that is not a DID as invalid_client', () => {
    expect(() => tokenClientDid(request('wallet-app'))).toThrow(InvalidClient);
    expect(() => tokenClientDid(request('https://wallet.example'))).toThrow('client_id must be the applicant DID');
  });
});
