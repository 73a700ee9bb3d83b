import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { processEnv, readSettings, type Environment } from '../config';
import { randomToken } from '../crypto/random';
import { createNodeCryptoProvider } from './nodeCrypto';
import { hashSecret } from '../crypto/secretHash';
import {
  addOperatorAccount,
  listOperatorAccounts,
  OPERATOR_NAME,
  OPERATOR_ROLES,
  removeOperatorAccount,
  resetOperatorSecret,
} from '../issuance/operatorAccounts';
import { ProtocolError } from '../protocol/errors';
import type { Store } from '../store/types';
import { openPostgres } from './postgres';
import { openSqlite } from './sqlite';

/**
 * `npm run operators -- <command>`: the review console's named accounts, on the database the
 * server uses (DATA_DIR/kcc-issuer.db, or PostgreSQL when DATABASE_URL is set). A secret is
 * printed once and stored only as a PBKDF2 hash (src/crypto/secretHash.ts).
 *
 *   add <name> --role reviewer|admin   create an account; prints its secret
 *   list                               every account (removed ones included)
 *   remove <name>   (or disable)       remove an account; its console sessions end at once
 *   reset <name>                       a new secret for an account; its sessions end
 *   --print-sql                        (add, reset, remove) write nothing: print the SQL for a
 *                                      database this machine cannot open, e.g. D1:
 *                                      `npm run -s operators -- add ana --role admin --print-sql > op.sql`
 *                                      then `wrangler d1 execute <db> --remote --file op.sql`
 *
 * Output is JSON on stdout; the secret is in it (add, reset) and nowhere else, ever.
 */
export interface OperatorsCliIo {
  out(line: string): void;
  err(line: string): void;
  now?: () => number;
}

const USAGE = 'usage: npm run operators -- add <name> --role reviewer|admin | list | remove <name> | reset <name> [--print-sql]';
const ACTOR = 'cli:operators';

const iso = (s: number | null) => (s == null ? null : new Date(s * 1000).toISOString());

/** SQL for D1 (--print-sql). Every value is validated (name charset, role list, base64url hash): nothing needs escaping. */
async function printSql(command: string, name: string, role: string | undefined, now: number, io: OperatorsCliIo): Promise<number> {
  const audit = (action: string, detail: Record<string, unknown>) =>
    `INSERT INTO audit_log (application_id, actor, action, detail, at) VALUES (NULL, '${ACTOR}', '${action}', '${JSON.stringify(detail)}', ${now});`;
  const endSessions = `UPDATE operator_sessions SET ended_at = ${now} WHERE operator = '${name}' AND ended_at IS NULL;`;
  if (command === 'add' || command === 'reset') {
    const secret = randomToken(createNodeCryptoProvider());
    const hash = await hashSecret(secret);
    const statements =
      command === 'add'
        ? [
            `INSERT INTO operator_accounts (name, role, secret_hash, created_at, updated_at, disabled_at) VALUES ('${name}', '${role}', '${hash}', ${now}, ${now}, NULL);`,
            audit('operator.added', { name, role }),
          ]
        : [
            `UPDATE operator_accounts SET secret_hash = '${hash}', updated_at = ${now}, controlled_by = '[]' WHERE name = '${name}' AND disabled_at IS NULL;`,
            endSessions,
            audit('operator.secret_reset', { name }),
          ];
    io.out(statements.join('\n'));
    io.err(`secret of ${name} (shown once, not in the SQL): ${secret}`);
    return 0;
  }
  io.out(
    [
      `UPDATE operator_accounts SET disabled_at = ${now}, updated_at = ${now} WHERE name = '${name}' AND disabled_at IS NULL;`,
      endSessions,
      audit('operator.removed', { name }),
    ].join('\n'),
  );
  return 0;
}

export async function runOperatorsCli(args: string[], env: Environment, io: OperatorsCliIo): Promise<number> {
  const [rawCommand, ...rest] = args;
  const command = rawCommand === 'disable' ? 'remove' : rawCommand;
  const positional = rest.filter((a, i) => !a.startsWith('--') && rest[i - 1] !== '--role');
  const name = positional[0];
  const role = rest.includes('--role') ? rest[rest.indexOf('--role') + 1] : undefined;
  const clock = io.now ?? Date.now;
  if (!command || !['add', 'list', 'remove', 'reset'].includes(command) || (command !== 'list' && !name) || positional.length > (command === 'list' ? 0 : 1)) {
    io.err(USAGE);
    return 2;
  }
  if (name !== undefined && !OPERATOR_NAME.test(name)) {
    io.err('an operator name is 2 to 32 characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit');
    return 2;
  }
  if (command === 'add' && !(OPERATOR_ROLES as readonly string[]).includes(role ?? '')) {
    io.err(`add needs --role ${OPERATOR_ROLES.join('|')}`);
    return 2;
  }
  if (rest.includes('--print-sql')) {
    if (command === 'list') {
      io.err('--print-sql applies to add, reset and remove');
      return 2;
    }
    return printSql(command, name as string, role, Math.floor(clock() / 1000), io);
  }

  let store: Store;
  let close: () => Promise<void>;
  const { databaseUrl, dataDir } = readSettings(env, 'node').storage;
  if (databaseUrl) {
    const pg = await openPostgres(databaseUrl, { poolSize: 1 });
    store = pg.store;
    close = pg.close;
  } else {
    const database = openSqlite(join(resolve(dataDir), 'kcc-issuer.db'));
    store = database.store;
    close = database.close;
  }
  const deps = { store, clock, crypto: createNodeCryptoProvider() };
  try {
    if (command === 'add') {
      const { account, secret } = await addOperatorAccount(deps, { name: name as string, role: role as string, actor: ACTOR });
      io.out(JSON.stringify({ name: account.name, role: account.role, secret }, null, 2));
      io.err('the secret is shown once and stored only as a hash: hand it to the operator now');
    } else if (command === 'reset') {
      const { secret, sessionsEnded } = await resetOperatorSecret(deps, { name: name as string, actor: ACTOR });
      io.out(JSON.stringify({ name, secret, sessions_ended: sessionsEnded }, null, 2));
      io.err('the secret is shown once and stored only as a hash: hand it to the operator now');
    } else if (command === 'remove') {
      const ended = await removeOperatorAccount(deps, { name: name as string, actor: ACTOR });
      io.out(JSON.stringify({ removed: name, sessions_ended: ended }, null, 2));
    } else {
      const accounts = await listOperatorAccounts(deps);
      io.out(
        JSON.stringify(
          {
            operators: accounts.map((a) => ({
              name: a.name,
              role: a.role,
              created_at: iso(a.createdAt),
              updated_at: iso(a.updatedAt),
              removed_at: iso(a.disabledAt),
            })),
          },
          null,
          2,
        ),
      );
    }
    return 0;
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    io.err(e.description);
    return 1;
  } finally {
    await close();
  }
}

// Run from source only (tsx): in the production build this module is bundled into an entry
// (src/runtime/main/) that starts it itself, and would otherwise start twice.
if (import.meta.url.endsWith('.ts') && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runOperatorsCli(process.argv.slice(2), processEnv(), { out: (l) => console.log(l), err: (l) => console.error(l) })
    .then((code) => process.exit(code))
    .catch((e) => {
      console.error(String(e?.message ?? e));
      process.exit(1);
    });
}
