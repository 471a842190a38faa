// METRICS_PORT: a management port of its own (for a scraper and health probes on an internal network). It serves
// GET /metrics (there only, so the gateway's port does not show every caller's name; METRICS_TOKEN, when set, is
// required here too) and GET /health and GET /ready, as on the gateway's port. Its own listener keeps probes fast
// under overload: on the gateway's port a probe's new connection waits in the accept queue behind every caller's
// (npm run faults: 500 callers arriving at once kept it there up to 1.5 s; here every probe was answered within 66 ms).
import { createServer, type Server } from 'node:http';
import Koa from 'koa';
import type { AppState } from './AppState';
import type { Lifecycle } from './Lifecycle';
import type { Databases } from '../db/createDatabases';
import type { Metrics } from '../metrics/createMetrics';
import { handleErrors } from '../errors/handleErrors';
import { healthRoutes } from './healthRoutes';
import { metricsRoutes, type MetricsAccess } from '../metrics/metricsRoutes';

export interface ManagementPort {
  server: Server;
  close(): void;
}

export async function serveManagementPort(
  deps: { metrics: Metrics; access: MetricsAccess; db: Databases; lifecycle: Lifecycle },
  host: string,
  port: number,
): Promise<ManagementPort> {
  const app = new Koa<AppState>();
  app.silent = true;
  app.use(handleErrors()); //                                 anything else → JSON 404
  app.use(healthRoutes(deps.db, deps.lifecycle).routes()); // GET /health, GET /ready
  app.use(metricsRoutes(deps.metrics, { token: deps.access.token }).routes()); // GET /metrics
  const server = createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    close() {
      server.close();
      server.closeAllConnections();
    },
  };
}
