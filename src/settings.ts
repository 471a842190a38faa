// Reads the environment once (env/<ENVIRONMENT>/.env under real variables), validates it and returns frozen settings.
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import type { Caller } from '../lib/auth/Caller';
import { sha256 } from '../lib/auth/sha256';
import { TOKEN68, TOKEN68_RULE } from '../lib/auth/token68';
import { ROLE_NAME, ROLE_NAME_RULE } from '../lib/auth/roleName';

export class SettingsError extends Error {
  name = 'SettingsError';
}

// Secrets: each may be given directly or as X_FILE (a path, as Docker secrets provide). Never printed.
const SECRET = /^(BEARER|CALLERS|METRICS_TOKEN|(MIGRATE_)?DATABASE_URL(_[A-Z0-9_]+)?)$/;

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => {
  const error = `must be a whole number between ${min} and ${max}`; // not zod's "expected number, received NaN"
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const claim = z.string().regex(/^[\x21-\x7e]{1,128}$/, 'a claim name (printable ASCII, no spaces)');
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

// One flat record; each default stands beside its key.
const schema = z.object({
  ENVIRONMENT: z.string().regex(/^[a-z0-9_-]+$/, 'lower-case letters, digits, - and _ only').default('local'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(0, 65535).default(8000),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  MIGRATE_ON_START: bool.optional(), // default: true only on the embedded database
  BEARER: z.string().min(16, 'must be at least 16 characters').regex(TOKEN68, TOKEN68_RULE).optional(),
  CALLERS: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FILE: z.string().default('logs/dbapi.log'),
  BODY_LIMIT_BYTES: int(1, 1024 ** 3).default(1024 * 1024),
  JSON_MAX_DEPTH: int(1, 10_000).default(64),
  DB_POOL_MAX: int(1, 1000).default(10),
  DB_CONNECT_TIMEOUT_MS: int(100, 600_000).default(3_000),
  DB_ACQUIRE_TIMEOUT_MS: int(1, 600_000).default(3_000), // wait for a free connection before 503 + Retry-After
  DB_TRANSACTION_TIMEOUT_MS: int(100, 86_400_000).default(60_000), // a started transaction in all; then 504, rolled back
  IDEMPOTENCY_TTL_S: int(1, 30 * 86_400).default(86_400), // how long an Idempotency-Key's answer is kept
  HEADERS_TIMEOUT_MS: int(1_000, 600_000).default(10_000), // slow clients: all request headers within this
  REQUEST_TIMEOUT_MS: int(1_000, 3_600_000).default(30_000), // slow clients: the whole request, body included
  DB_IDLE_TIMEOUT_S: int(0, 86_400).default(60),
  DB_STATEMENT_TIMEOUT_MS: int(0, 86_400_000).default(30_000),
  DB_PREPARE: bool.default(true), // false behind PgBouncer in transaction mode
  KEEP_ALIVE_TIMEOUT_MS: int(1_000, 3_600_000).default(65_000), // above nginx's upstream keepalive_timeout (5 s in nginx/), so nginx closes idle connections first
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  SEND_TIMEOUT_MS: int(100, 3_600_000).default(30_000), // a streamed answer whose reader takes nothing this long is cut off
  BATCH_MAX_CALLS: int(1, 10_000).default(100), // calls in one POST /_batch
  DB_MAX_WAITING: int(1, 100_000).default(500), // calls queued for a connection per database; more → 503 at once
  CALLER_MAX_CONCURRENT: int(0, 100_000).default(0), // a caller's running calls per replica unless CALLERS says; 0: no limit
  DB_PROBE_AFTER_MS: int(0, 600_000).default(2_000), // a connection silent this long while owing an answer has its path probed; 0: never
  // JWT bearer tokens from the organisation's OpenID Connect provider (enabled by JWT_ISSUER): lib/auth/jwtVerifier.ts
  JWT_ISSUER: z.url().optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  JWT_CLOCK_SKEW_S: int(0, 3_600).default(30), // leeway on exp and nbf
  JWT_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(), // unset: OIDC discovery from JWT_ISSUER, unless JWT_JWKS_FILE
  JWT_JWKS_FILE: z.string().min(1).optional(),
  JWT_JWKS_COOLDOWN_S: int(0, 3_600).default(30), // least time between two fetches of the keys (unknown kids, failures)
  JWT_JWKS_MAX_AGE_S: int(1, 86_400).default(600), // cached keys are refreshed in the background after this
  JWT_ALGORITHMS: z.string().default(ASYMMETRIC.join(',')).transform((v) => v.split(',').map((a) => a.trim())).pipe(z.array(z.enum(ASYMMETRIC, `asymmetric algorithms only, comma-separated: ${ASYMMETRIC.join(', ')}`)).min(1)),
  JWT_CALLER_CLAIM: claim.default('sub'),
  JWT_SCOPE_CLAIM: claim.default('scope'),
  JWT_ROLE_CLAIM: claim.optional(),
  JWT_DRY_RUN_CLAIM: claim.default('dbapi_dry_run'),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').regex(TOKEN68, TOKEN68_RULE).optional(),
  METRICS_PORT: int(1, 65535).optional(), // a management port: /metrics here only (not on PORT), /health and /ready here too
  DB_REPLICA_MAX_LAG_MS: int(0, 86_400_000).default(5_000), // a replica lagging more is skipped until it catches up
  DB_REPLICA_CHECK_MS: int(100, 600_000).default(1_000), // how often each replica's health, lag and replay LSN are read
  MIGRATE_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(), // migrations of `default` go here (direct, not through PgBouncer)
});

const callersSchema = z.array(z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, ., - and _ only'),
  tokens: z.array(z.string().min(16, 'tokens must be at least 16 characters').regex(TOKEN68, TOKEN68_RULE)).default([]),
  tokenSha256: z.array(z.string().regex(/^[0-9a-fA-F]{64}$/)).default([]),
  allow: z.array(z.string().regex(/^(\*|[a-z0-9_-]+(\/(\*|[a-z0-9_-]+))?)$/, 'patterns look like *, module/*, module/action or module (its root action)')).min(1),
  dryRun: z.boolean().default(false), // may send `Prefer: tx=rollback`
  maxConcurrent: z.number().int().min(0).max(100_000).optional(), // its fair share; default CALLER_MAX_CONCURRENT
  role: z.string().regex(ROLE_NAME, ROLE_NAME_RULE).optional(), // its transactions take it with SET LOCAL ROLE
}).refine((c) => c.tokens.length + c.tokenSha256.length > 0, 'needs tokens or tokenSha256'));


export type Settings = ReturnType<typeof loadSettings>;

/** Raw variables: the environment's .env file first, real environment variables over it, X_FILE secrets read. */
function readVariables(env: NodeJS.ProcessEnv, root: string): Record<string, string> {
  const environment = env.ENVIRONMENT || 'local';
  const file = resolve(root, 'env', environment, '.env');
  const fromFile = /^[a-z0-9_-]+$/.test(environment) && existsSync(file) ? parseDotenv(readFileSync(file)) : {};
  const vars: Record<string, string> = { ...fromFile };
  for (const [key, value] of Object.entries(env)) if (value !== undefined) vars[key] = value;
  for (const [key, path] of Object.entries(vars)) {
    const name = key.slice(0, -'_FILE'.length);
    if (!key.endsWith('_FILE') || !SECRET.test(name) || vars[name] !== undefined) continue;
    try {
      vars[name] = readFileSync(resolve(root, path), 'utf8').trim();
    } catch {
      throw new SettingsError(`Invalid setting ${key}: cannot read the file it names`);
    }
  }
  return vars;
}

function parseCallers(vars: Record<string, string>, devToken: boolean): Caller[] {
  const callers: Caller[] = [];
  if (vars.CALLERS) {
    let json: unknown;
    try {
      json = JSON.parse(vars.CALLERS);
    } catch {
      throw new SettingsError('Invalid setting CALLERS: not valid JSON');
    }
    const parsed = callersSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SettingsError(`Invalid setting CALLERS at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    const names = new Set<string>();
    for (const c of parsed.data) {
      if (names.has(c.name)) throw new SettingsError(`Invalid setting CALLERS: caller "${c.name}" appears twice`);
      names.add(c.name);
      callers.push({
        name: c.name,
        tokenHashes: [...c.tokens.map(sha256), ...c.tokenSha256.map((h) => Buffer.from(h, 'hex'))],
        allow: c.allow,
        dryRun: c.dryRun,
        ...(c.maxConcurrent === undefined ? {} : { maxConcurrent: c.maxConcurrent }),
        ...(c.role ? { role: c.role } : {}),
      });
    }
  }
  if (vars.BEARER && !(devToken && (callers.length > 0 || vars.JWT_ISSUER))) {
    // Caller names are unique across every source: they key Idempotency-Key answers, log lines and metrics.
    if (callers.some((c) => c.name === 'default')) throw new SettingsError('Invalid setting CALLERS: caller "default" is also the name of BEARER\'s caller; rename it');
    callers.push({ name: 'default', tokenHashes: [sha256(vars.BEARER)], allow: ['*'], dryRun: true });
  }
  return callers;
}

/** JWT settings when JWT_ISSUER is set; any other JWT_ setting without it stops the start. */
function parseJwt(s: z.infer<typeof schema>, root: string) {
  if (!s.JWT_ISSUER) {
    for (const key of ['JWT_AUDIENCE', 'JWT_JWKS_URL', 'JWT_JWKS_FILE', 'JWT_ROLE_CLAIM'] as const) {
      if (s[key] !== undefined) throw new SettingsError(`Invalid setting ${key}: needs JWT_ISSUER`);
    }
    return undefined;
  }
  if (s.JWT_JWKS_URL && s.JWT_JWKS_FILE) throw new SettingsError('Invalid setting JWT_JWKS_FILE: give JWT_JWKS_URL or JWT_JWKS_FILE, not both');
  let jwksFile: { keys: unknown[] } | undefined;
  if (s.JWT_JWKS_FILE) {
    try {
      jwksFile = JSON.parse(readFileSync(resolve(root, s.JWT_JWKS_FILE), 'utf8'));
    } catch {
      throw new SettingsError('Invalid setting JWT_JWKS_FILE: cannot read a JSON file there');
    }
    if (!Array.isArray(jwksFile?.keys)) throw new SettingsError('Invalid setting JWT_JWKS_FILE: not a JSON Web Key Set ({"keys": [...]})');
  }
  return {
    issuer: s.JWT_ISSUER,
    audience: s.JWT_AUDIENCE,
    clockSkewS: s.JWT_CLOCK_SKEW_S,
    jwksUrl: s.JWT_JWKS_URL,
    jwksFile,
    jwksCooldownS: s.JWT_JWKS_COOLDOWN_S,
    jwksMaxAgeS: s.JWT_JWKS_MAX_AGE_S,
    algorithms: s.JWT_ALGORITHMS,
    callerClaim: s.JWT_CALLER_CLAIM,
    scopeClaim: s.JWT_SCOPE_CLAIM,
    roleClaim: s.JWT_ROLE_CLAIM,
    dryRunClaim: s.JWT_DRY_RUN_CLAIM,
  };
}

/** Named databases: DATABASE_URL is `default`, DATABASE_URL_<NAME> is `<name>`. Undefined `default` means embedded. */
function parseDatabases(vars: Record<string, string>): Record<string, string | undefined> {
  const databases: Record<string, string | undefined> = { default: vars.DATABASE_URL || undefined };
  for (const [key, value] of Object.entries(vars)) {
    const m = /^DATABASE_URL_([A-Z0-9_]+)$/.exec(key);
    if (!m || m[1].endsWith('_FILE') || m[1] === 'FILE') continue; // X_FILE was read into X above
    if (m[1] === 'REPLICAS' || m[1].endsWith('_REPLICAS')) continue; // replicas of a database: parseReplicas
    if (!/^postgres(ql)?:\/\//.test(value)) throw new SettingsError(`Invalid setting ${key}: must be a postgres:// URL`);
    databases[m[1].toLowerCase()] = value;
  }
  return databases;
}

/**
 * Read replicas: DATABASE_URL_REPLICAS (of `default`) and DATABASE_URL_<NAME>_REPLICAS, comma-separated URLs; a
 * database of that name must be configured.
 */
function parseReplicas(vars: Record<string, string>, databases: Record<string, string | undefined>): Record<string, string[]> {
  const replicas: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(vars)) {
    const m = /^DATABASE_URL(?:_([A-Z0-9_]+))?_REPLICAS$/.exec(key);
    if (!m) continue;
    const name = m[1] ? m[1].toLowerCase() : 'default';
    if (!(name in databases)) throw new SettingsError(`Invalid setting ${key}: no database "${name}" is configured (DATABASE_URL${m[1] ? `_${m[1]}` : ''})`);
    const urls = value.split(',').map((u) => u.trim()).filter(Boolean);
    if (urls.some((u) => !/^postgres(ql)?:\/\//.test(u))) throw new SettingsError(`Invalid setting ${key}: must be comma-separated postgres:// URLs`);
    if (urls.length > 0) replicas[name] = urls;
  }
  return replicas;
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env, root = process.cwd()) {
  const vars = readVariables(env, root);
  const parsed = schema.safeParse(vars);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SettingsError(`Invalid setting ${issue.path.join('.')}: ${issue.message}`);
  }
  const s = parsed.data;
  // The development token: BEARER as env/local/.env ships it (not a real variable). It is active only when no other
  // caller is configured, so a forgotten ENVIRONMENT cannot leave it valid beside real callers.
  const devToken = s.ENVIRONMENT === 'local' && env.BEARER === undefined && env.BEARER_FILE === undefined && vars.BEARER !== undefined;
  const callers = parseCallers(vars, devToken);
  const jwt = parseJwt(s, root);
  if (callers.length === 0 && !jwt && s.ENVIRONMENT !== 'local' && s.ENVIRONMENT !== 'test') {
    throw new SettingsError(`Invalid setting BEARER: no token is configured (BEARER, BEARER_FILE, CALLERS, CALLERS_FILE or JWT_ISSUER); required when ENVIRONMENT is ${s.ENVIRONMENT}`);
  }
  const databases = parseDatabases(vars);
  const embedded = databases.default === undefined;
  const replicas = parseReplicas(vars, databases);
  if (embedded && replicas.default) throw new SettingsError('Invalid setting DATABASE_URL_REPLICAS: replicas need DATABASE_URL (the embedded database has none)');
  return deepFreeze({
    environment: s.ENVIRONMENT,
    root,
    host: s.HOST,
    port: s.PORT,
    databases,
    replicas,
    migrateDatabaseUrl: s.MIGRATE_DATABASE_URL,
    embedded: embedded ? { dir: resolve(root, s.DATA_DIR, 'postgres') } : undefined,
    migrateOnStart: s.MIGRATE_ON_START ?? embedded,
    callers,
    /** The development token of env/local/.env is the only caller (start-up logs it). */
    devToken: devToken && callers.length === 1 && callers[0].name === 'default',
    jwt,
    metrics: { token: s.METRICS_TOKEN ? sha256(s.METRICS_TOKEN) : undefined, port: s.METRICS_PORT },
    log: { level: s.LOG_LEVEL, file: s.LOG_FILE ? resolve(root, s.LOG_FILE) : undefined },
    body: { limitBytes: s.BODY_LIMIT_BYTES, maxDepth: s.JSON_MAX_DEPTH },
    db: {
      poolMax: s.DB_POOL_MAX,
      connectTimeoutMs: s.DB_CONNECT_TIMEOUT_MS,
      idleTimeoutS: s.DB_IDLE_TIMEOUT_S,
      statementTimeoutMs: s.DB_STATEMENT_TIMEOUT_MS,
      prepare: s.DB_PREPARE,
      acquireTimeoutMs: s.DB_ACQUIRE_TIMEOUT_MS,
      transactionTimeoutMs: s.DB_TRANSACTION_TIMEOUT_MS,
      maxWaiting: s.DB_MAX_WAITING,
      probeAfterMs: s.DB_PROBE_AFTER_MS,
      replicaMaxLagMs: s.DB_REPLICA_MAX_LAG_MS,
      replicaCheckMs: s.DB_REPLICA_CHECK_MS,
    },
    callerMaxConcurrent: s.CALLER_MAX_CONCURRENT,
    idempotency: { ttlS: s.IDEMPOTENCY_TTL_S },
    http: {
      keepAliveTimeoutMs: s.KEEP_ALIVE_TIMEOUT_MS, shutdownTimeoutMs: s.SHUTDOWN_TIMEOUT_MS,
      headersTimeoutMs: s.HEADERS_TIMEOUT_MS, requestTimeoutMs: s.REQUEST_TIMEOUT_MS, sendTimeoutMs: s.SEND_TIMEOUT_MS,
    },
    batch: { maxCalls: s.BATCH_MAX_CALLS },
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
