import type { IdvProvider, IdvResult } from './provider';

/**
 * The built-in hosted form as an IDV provider (spec "PII collected by PFI"): the IDV Request
 * `url` is the form itself, the decision is made when the form is submitted (sandbox
 * decisions, src/idv/sandbox.ts), no webhooks. Its "vendor reference" is the application id.
 */
export const HOSTED_PROVIDER = 'hosted';

export function createHostedFormProvider(options: { result: (applicationId: string) => Promise<IdvResult | undefined> }): IdvProvider {
  return {
    name: HOSTED_PROVIDER,
    capabilities: { collectsPii: 'issuer', webhooks: false, resultFetch: true, manualReview: true, checks: ['self_declared', 'document'] },
    async createSession(request) {
      return { url: request.entryUrl, vendorReference: request.applicationId };
    },
    async verifyWebhook() {
      throw new Error('the hosted form receives no webhooks');
    },
    parseEvent() {
      throw new Error('the hosted form receives no webhooks');
    },
    async fetchResult(applicationId) {
      const result = await options.result(applicationId);
      if (!result) throw new Error('no result yet');
      return result;
    },
  };
}
