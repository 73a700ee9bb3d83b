#!/usr/bin/env node
// The reference wallet CLI (src/wallet/cli.ts), run through tsx so no build step is needed.
import { register } from 'tsx/esm/api';

register();
await import('../src/wallet/cli.ts');
