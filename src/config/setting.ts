import { z } from 'zod';

/**
 * One option of the settings table (src/config/settings.ts): its environment variable, the zod
 * parser of the variable's text, the default and a one-line description. The table is nested
 * like the config it produces; `SettingsOf` infers that config's type from it, as
 * node-oidc-provider's lib/helpers/defaults.js is both the defaults and the documentation.
 */
export interface SettingSpec<T> {
  /** Environment variable on Node, var or secret on Workers. None: set in code only (config input, Node options). */
  readonly env?: string;
  /** The variable's text to a value; a failure names the variable (`PORT must be a port number`). Required with `env`. */
  readonly parse?: Parser<T>;
  readonly default: T;
  /** The default as the README shows it, when it is computed at start (`$DATA_DIR/issuer-keys.json`). */
  readonly defaultText?: string;
  /** One line (markdown) for the README's table. */
  readonly doc: string;
  /** A secret: never echoed in an error, shown as `secret` in the README. */
  readonly secret?: boolean;
  /** Read by one runtime only; unset: Node and Workers alike. */
  readonly only?: Runtime;
}

export type Runtime = 'node' | 'workers';

/** A parser of an environment variable's text (zod: string in, value out). */
export type Parser<T> = z.ZodType<T, string>;

export class Setting<T> {
  constructor(readonly spec: SettingSpec<T>) {}
}

/** An option with a default. */
export function setting<T>(spec: SettingSpec<T>): Setting<T> {
  return new Setting(spec);
}

/** An option that is unset unless given (its absence means something: a feature off, a value computed at start). */
export function unset<T>(spec: Omit<SettingSpec<T>, 'default'>): Setting<T | undefined> {
  return new Setting<T | undefined>({ ...spec, default: undefined, parse: spec.parse as Parser<T | undefined> | undefined });
}

export interface SettingsTable {
  readonly [key: string]: Setting<unknown> | SettingsTable;
}

/** Keys of a section whose setting may be unset (its type includes undefined): optional members. */
type UnsetKeys<S> = { [K in keyof S]: S[K] extends Setting<infer T> ? (undefined extends T ? K : never) : never }[keyof S];
type Flat<T> = { [K in keyof T]: T[K] };

/** The value type of a table: each setting's type, sections as nested objects, unset-able settings optional. */
export type SettingsOf<S> =
  S extends Setting<infer T>
    ? T
    : Flat<{ -readonly [K in Exclude<keyof S, UnsetKeys<S>>]: SettingsOf<S[K]> } & { -readonly [K in UnsetKeys<S>]?: SettingsOf<S[K]> }>;

/** Sections and settings, all optional: what the environment gave. */
export type GivenSettingsOf<S> = S extends Setting<infer T> ? T : { -readonly [K in keyof S]?: GivenSettingsOf<S[K]> };

class Invalid extends Error {}

/** Inside a parser: refuses the text with a message that follows the variable's name (`must be …`). */
export function invalid(message: string): never {
  throw new Invalid(message);
}

/** A zod parser from a function of the text; `invalid()` inside it is a zod issue. */
export function parser<T>(parse: (text: string) => T): Parser<T> {
  return z.string().transform((text, ctx) => {
    try {
      return parse(text);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      ctx.addIssue({ code: 'custom', message: e.message });
      return z.NEVER;
    }
  });
}

/** What a runtime reads: an environment variable's text, or undefined when unset or empty. */
export type Environment = Readonly<Record<string, unknown>>;

function text(env: Environment, name: string): string | undefined {
  const value = env[name];
  // Workers bindings may hold objects (D1, JSON vars); only strings are settings. Empty is unset.
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Parses one setting's text, naming the variable in the error. */
export function parseSetting<T>(setting: Setting<T>, value: string): T {
  const { env = 'setting', parse } = setting.spec;
  if (!parse) throw new TypeError(`${env} has no parser`);
  const parsed = parse.safeParse(value);
  if (parsed.success) return parsed.data;
  const message = parsed.error.issues[0]?.message ?? 'is invalid';
  throw new TypeError(/^(must|is) /.test(message) ? `${env} ${message}` : `${env}: ${message}`);
}

function applies(spec: SettingSpec<unknown>, runtime: Runtime | undefined): boolean {
  return spec.env !== undefined && (spec.only === undefined || runtime === undefined || spec.only === runtime);
}

/**
 * The settings were refused: one line per problem, each naming its variable (every setting is
 * checked before any is refused, so a start fails once with the whole list).
 */
export class SettingsError extends TypeError {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'SettingsError';
  }
}

/** Walks `table`, calling `each` per setting; the problems of every setting are collected and thrown together. */
function walk(table: SettingsTable, each: (setting: Setting<unknown>) => { value: unknown } | undefined, keepEmpty: boolean): Record<string, unknown> {
  const problems: string[] = [];
  const visit = (t: SettingsTable): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(t)) {
      if (entry instanceof Setting) {
        try {
          const got = each(entry);
          if (got) out[key] = got.value;
        } catch (e) {
          problems.push(e instanceof Error ? e.message : String(e));
        }
      } else {
        const section = visit(entry);
        if (keepEmpty || Object.keys(section).length > 0) out[key] = section;
      }
    }
    return out;
  };
  const out = visit(table);
  if (problems.length > 0) throw new SettingsError(problems);
  return out;
}

/** Every setting of `table`: the environment's value where given, else the default. Throws a `SettingsError` listing every invalid one. */
export function readTable<S extends SettingsTable>(table: S, env: Environment, runtime?: Runtime): SettingsOf<S> {
  return walk(
    table,
    (entry) => {
      const given = applies(entry.spec, runtime) ? text(env, entry.spec.env!) : undefined;
      return { value: given === undefined ? copy(entry.spec.default) : parseSetting(entry, given) };
    },
    true,
  ) as SettingsOf<S>;
}

/** Only the settings the environment gives (empty sections left out), so code-given values and defaults apply to the rest. */
export function givenTable<S extends SettingsTable>(table: S, env: Environment, runtime?: Runtime): GivenSettingsOf<S> {
  return walk(
    table,
    (entry) => {
      const given = applies(entry.spec, runtime) ? text(env, entry.spec.env!) : undefined;
      return given === undefined ? undefined : { value: parseSetting(entry, given) };
    },
    false,
  ) as GivenSettingsOf<S>;
}

/** The defaults of `table`. */
export function defaultsOf<S extends SettingsTable>(table: S): SettingsOf<S> {
  return readTable(table, {});
}

/** Every setting of `table` with its dotted path, in table order. */
export function settingsList(table: SettingsTable, prefix = ''): { path: string; spec: SettingSpec<unknown> }[] {
  return Object.entries(table).flatMap(([key, entry]) =>
    entry instanceof Setting ? [{ path: `${prefix}${key}`, spec: entry.spec }] : settingsList(entry, `${prefix}${key}.`),
  );
}

function copy<T>(value: T): T {
  return (Array.isArray(value) ? [...value] : value) as T;
}
