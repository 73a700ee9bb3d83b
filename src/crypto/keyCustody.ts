import type { JwsAlgorithm, PublicJwk, Signer } from './keys';

/**
 * Keys held outside this process: a hardware security module over PKCS#11
 * (src/runtime/pkcs11Signer.ts) today, a cloud KMS adapter later. The private key never reaches
 * the process; it signs through a {@link Signer} like a file key, and the public key is read
 * from the custodian for the DID document (docs/hsm.md).
 */
export interface ExternalKeyRef {
  /** Which custodian holds the key; one adapter per kind. */
  custody: 'pkcs11';
  /** The key's label in the custodian (PKCS#11 `CKA_LABEL` of the private and public key objects). */
  label: string;
}

export interface KeyCustody {
  readonly custody: ExternalKeyRef['custody'];
  /** The key's algorithm and public key, read from the custodian (never from a cached copy). */
  describe(ref: ExternalKeyRef): Promise<{ alg: JwsAlgorithm; publicJwk: PublicJwk }>;
  /** A signer whose `sign` runs inside the custodian. */
  createSigner(ref: ExternalKeyRef, kid: string): Promise<Signer>;
  /** Generates a non-extractable key pair in the custodian under `label` (refused if the label is taken). */
  generateKeyPair(alg: JwsAlgorithm, label: string): Promise<ExternalKeyRef>;
}
