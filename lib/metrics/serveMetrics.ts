// METRICS_PORT: /metrics on a port of its own (for a scraper on an internal network), nothing else, so the gateway's
// port does not show every caller's name. METRICS_TOKEN, when also set, is required here too.
import { createServer, type Server } from 'node:http';
import type { Metrics } from './createMetrics';
import { GATEWAY_PATHS } from '../http/gatewayPaths';
import { mayScrape, type MetricsAccess } from './metricsRoutes';

export async function serveMetrics(metrics: Metrics, access: MetricsAccess, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const answer = (status: number, type: string, body: string) => res.writeHead(status, { 'content-type': type }).end(body);
    if (req.method !== 'GET' || req.url?.split('?')[0] !== GATEWAY_PATHS.metrics) return answer(404, 'application/json', '{"error":{"code":"not_found","message":"Only GET /metrics is served here"}}');
    if (!mayScrape(access, req.headers.authorization)) return answer(401, 'application/json', '{"error":{"code":"unauthorized","message":"A valid bearer token is required"}}');
    metrics.registry.metrics().then((text) => answer(200, metrics.registry.contentType, text), () => answer(500, 'application/json', '{"error":{"code":"internal","message":"Internal error"}}'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
