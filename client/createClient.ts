// A typed client: `client.<module>.<action>(params)` POSTs to the gateway; retries 429/503/504/network errors with backoff.
import type { RouteTable } from '../lib/modules/action';
import type { BatchCall, CallOptions, Client } from './types';
import type { Modules } from './modules';
import { DbapiError } from './DbapiError';
import { readNdjson } from './readNdjson';
import { GATEWAY_PATHS } from '../lib/http/gatewayPaths';
import { parseLsn } from '../lib/db/parseLsn';

export interface ClientOptions {
  /** The gateway, e.g. `http://dbapi:8000`. */
  baseUrl: string;
  /** A static token, or a provider called before each request, for tokens that expire (JWTs from an identity provider). */
  token: string | TokenProvider;
  /** Retries after a 429, a 503, a 504 or a network error (each with the same Idempotency-Key). Default 0. */
  retries?: number;
  /** First backoff; doubles per retry, with jitter, capped by maxBackoffMs. A 503's Retry-After wins when longer. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Another fetch (tests, proxies). */
  fetch?: typeof fetch;
  /**
   * Each call's budget in ms, retries included. Every attempt sends what is left as `Request-Timeout`, so the gateway
   * bounds its wait for a connection and its statements by it (504 past it); no retry starts once it is spent, and
   * an attempt that gets no answer at all is abandoned a second after it.
   */
  timeoutMs?: number;
}

// How long past its Request-Timeout an attempt waits for the gateway's own 504 before giving up on the network.
const DEADLINE_GRACE_MS = 1_000;

/**
 * Gives the bearer token for the next request; cache it yourself until shortly before it expires. `refresh: true`
 * after the gateway refused the last one as invalid (it expired on the way, or keys rotated): get a new one. A call is
 * tried once more with it.
 */
export type TokenProvider = (o: { refresh: boolean }) => string | Promise<string>;

const RETRY_STATUSES = new Set([429, 503, 504]); // a 429 ran nothing: always safe to send again

export function createClient<M extends Record<string, RouteTable> = Modules>(o: ClientOptions): Client<M> {
  const base = o.baseUrl.replace(/\/+$/, '');
  const doFetch = o.fetch ?? fetch;
  const retries = o.retries ?? 0;
  // Session consistency: the highest Dbapi-Lsn this client has been answered, sent as Dbapi-Min-Lsn with every call,
  // so its reads see its own writes even when a replica serves them.
  let lsn: { text: string; value: bigint } | undefined;

  async function post(path: string, params: unknown, options: CallOptions = {}): Promise<unknown> {
    const token = (refresh: boolean) => (typeof o.token === 'string' ? o.token : o.token({ refresh }));
    const headers: Record<string, string> = {
      authorization: `Bearer ${await token(false)}`,
      'content-type': 'application/json',
      accept: 'application/x-ndjson, application/json',
    };
    // A key makes a retry safe; without retries it would only cost the gateway a stored answer per call.
    const key = options.idempotencyKey ?? (retries > 0 ? globalThis.crypto.randomUUID() : undefined);
    if (key) headers['idempotency-key'] = key;
    if (options.dryRun) headers.prefer = 'tx=rollback';
    if (options.requestId) headers['x-request-id'] = options.requestId;
    if (lsn) headers['dbapi-min-lsn'] = lsn.text;
    const body = JSON.stringify(params ?? {});
    const budgetMs = options.timeoutMs ?? o.timeoutMs;
    const deadline = budgetMs === undefined ? undefined : Date.now() + budgetMs;
    const left = () => (deadline === undefined ? Infinity : deadline - Date.now());
    let refreshed = typeof o.token === 'string'; // a static token cannot be refreshed
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      let signal = options.signal;
      if (deadline !== undefined) {
        headers['request-timeout'] = String(Math.max(1, Math.ceil(left())));
        const expiry = AbortSignal.timeout(Math.max(1, left()) + DEADLINE_GRACE_MS);
        signal = signal ? AbortSignal.any([signal, expiry]) : expiry;
      }
      try {
        res = await doFetch(base + path, { method: 'POST', headers, body, signal });
      } catch (e) {
        if (options.signal?.aborted || attempt >= retries || left() <= 0) {
          throw new DbapiError('network', `dbapi ${path}: ${(e as Error).message}`, { status: 0, cause: e });
        }
        await sleep(backoff(attempt, o));
        continue;
      }
      if (res.ok) {
        const committed = res.headers.get('dbapi-lsn');
        const value = committed ? parseLsn(committed) : undefined;
        if (value !== undefined && (!lsn || value > lsn.value)) lsn = { text: committed!, value };
        if ((res.headers.get('content-type') ?? '').startsWith('application/x-ndjson')) return readNdjson(res.body);
        return res.json();
      }
      if (res.status === 401 && !refreshed && /invalid_token/.test(res.headers.get('www-authenticate') ?? '')) {
        refreshed = true;
        await res.body?.cancel();
        headers.authorization = `Bearer ${await token(true)}`;
        attempt--; // not one of the retries: the same attempt with a fresh token
        continue;
      }
      if (RETRY_STATUSES.has(res.status) && attempt < retries) {
        const retryAfterMs = Number(res.headers.get('retry-after')) * 1000 || 0;
        const pauseMs = Math.max(backoff(attempt, o), retryAfterMs);
        if (pauseMs < left()) {
          await res.body?.cancel();
          await sleep(pauseMs);
          continue;
        }
      }
      throw await toError(res, path);
    }
  }

  const modules = new Map<string, object>();
  const moduleProxy = (module: string) =>
    new Proxy({}, { get: (_t, name) => typeof name === 'string' ? (params?: unknown, options?: CallOptions) => post(`/${name ? `${module}/${name}` : module}`, params, options) : undefined });
  return new Proxy({} as Client<M>, {
    get(_t, name) {
      if (name === '$batch') {
        return async (calls: BatchCall[], options?: CallOptions) => ((await post(GATEWAY_PATHS.batch, { calls }, options)) as { results: unknown[] }).results;
      }
      if (typeof name !== 'string' || name === 'then') return undefined; // not a thenable
      if (!modules.has(name)) modules.set(name, moduleProxy(name));
      return modules.get(name);
    },
  });
}

async function toError(res: Response, path: string): Promise<DbapiError> {
  const requestId = res.headers.get('x-request-id') ?? undefined;
  const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string; details?: unknown; requestId?: string } } | undefined;
  const e = body?.error;
  return new DbapiError(e?.code ?? 'internal', e?.message ?? `dbapi ${path}: HTTP ${res.status}`, {
    status: res.status, requestId: e?.requestId ?? requestId, details: e?.details,
  });
}

function backoff(attempt: number, o: ClientOptions): number {
  const base = (o.backoffMs ?? 100) * 2 ** attempt;
  return Math.min(o.maxBackoffMs ?? 2_000, base / 2 + Math.random() * (base / 2)); // "equal jitter"
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
