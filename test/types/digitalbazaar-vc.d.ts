/** The part of @digitalbazaar/vc 7.3.0 (untyped JavaScript) the interop tests use. */
declare module '@digitalbazaar/vc' {
  /** The VC Data Model checks of a credential, before any proof (throws an Error naming the problem). */
  export function _checkCredential(options: { credential: unknown; now?: Date | string; mode?: 'issue' | 'verify'; maxClockSkew?: number }): void;
}
