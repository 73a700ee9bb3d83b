/** The part of @digitalbazaar/vc-bitstring-status-list 2.0.1 (untyped JavaScript) the interop tests use. */
declare module '@digitalbazaar/vc-bitstring-status-list' {
  export interface BitstringStatusListEntry {
    id?: string;
    type: 'BitstringStatusListEntry';
    statusPurpose: string;
    statusListIndex: string;
    statusListCredential: string;
  }
  export class BitstringStatusList {
    readonly length: number;
    getStatus(index: number): boolean;
  }
  export function decodeList(options: { encodedList: string }): Promise<BitstringStatusList>;
  export function statusTypeMatches(options: { credential: object }): boolean;
  export function getCredentialStatus(options: { credential: object; statusPurpose: string }): BitstringStatusListEntry;
}
