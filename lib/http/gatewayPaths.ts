// The one table of the paths the gateway serves itself: the module loader reserves their names, metrics label them,
// OpenAPI documents them and the client calls them.
export const GATEWAY_PATHS = {
  health: '/health', //        GET: the process runs (no token)
  ready: '/ready', //          GET: every database answers, not draining (no token)
  metrics: '/metrics', //      GET: Prometheus text (no token)
  openapi: '/openapi.json', // GET: the OpenAPI document (no token)
  docs: '/docs', //            GET: Swagger UI and its assets under /docs/ (no token)
  batch: '/_batch', //         POST: several calls in one transaction (token)
  root: '/', //                GET: points to /docs (no token)
  favicon: '/favicon.ico', //  GET: the docs' icon, so browsers get no 401 (no token)
} as const;

/** Each path's first segment, up to `.` or `/`: no module may take one of these names. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(Object.values(GATEWAY_PATHS).map((p) => p.slice(1).split(/[./]/)[0]).filter((n) => n !== ''));

// The GET endpoints; `/_batch` is a call, labelled `_batch` once resolved like any action.
const OWN: ReadonlySet<string> = new Set(Object.values(GATEWAY_PATHS).filter((p) => p !== GATEWAY_PATHS.batch));

/** The metrics label of a request no call resolved: the gateway's GET paths keep theirs, anything else is `none`. */
export function gatewayPathLabel(path: string): string {
  if (OWN.has(path)) return path;
  return path.startsWith(`${GATEWAY_PATHS.docs}/`) ? GATEWAY_PATHS.docs : 'none';
}
