import { main, reportStartupFailure } from '../../src/runtime/node';

/**
 * The issuer's `main` (src/runtime/node.ts), loaded ahead and started on demand, for the crash
 * suites (test/helpers/warmIssuers.ts): by the time this module runs, every module of the server
 * is loaded (the bulk of a process start); it says `warm`, then waits for one line on stdin, the
 * JSON of the environment to add, and starts exactly as `npm run start:prod` does.
 */
process.stdout.write('warm\n');
let line = '';
for await (const chunk of process.stdin) {
  line += String(chunk);
  if (line.includes('\n')) break;
}
Object.assign(process.env, JSON.parse(line) as Record<string, string>);
main().catch((e) => {
  reportStartupFailure(e);
  process.exit(1);
});
