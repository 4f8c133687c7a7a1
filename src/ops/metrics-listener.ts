import { createServer, type Server } from 'node:http';
import { metricsTokenMatches, type Metrics } from './metrics.js';

/**
 * METRICS_LISTEN: /metrics alone on an address of its own (say a private interface Prometheus
 * reaches and the internet does not). With METRICS_TOKEN set too, the token is still asked for.
 */
export function serveMetrics(metrics: Metrics, at: { host: string; port: number }, token: string | null): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('only GET /metrics is served here\n');
      return;
    }
    if (token && !metricsTokenMatches(req.headers.authorization, token)) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer realm="metrics"' }).end('send Authorization: Bearer <METRICS_TOKEN>\n');
      return;
    }
    metrics.text().then(
      (body) => res.writeHead(200, { 'content-type': metrics.contentType }).end(body),
      () => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics failed\n'),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => { server.off('error', reject); resolve(server); });
  });
}
