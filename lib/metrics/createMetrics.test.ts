// The request metrics as Prometheus reads them: counted per action, caller and status; latency as cumulative buckets.
import { createMetrics } from './createMetrics';

test('requests and their latency read as prom-client writes counters and histograms', async () => {
  const metrics = createMetrics();
  metrics.recordRequest('example/bar', 'ann', 200, 0.004);
  metrics.recordRequest('example/bar', 'ann', 200, 0.3);
  metrics.recordRequest('example/bar', 'ann', 400, 0.01); // on a bound: counted in that bucket (le is "≤")
  metrics.recordRequest('example/bar', 'bob', 200, 45); // above every bound: only in +Inf
  metrics.recordRequest('example/foo', 'ann', 429, 0);
  const text = await metrics.registry.metrics();
  const lines = (prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix));
  expect(lines('dbapi_requests_total')).toEqual([
    'dbapi_requests_total{action="example/bar",caller="ann",status="200"} 2',
    'dbapi_requests_total{action="example/bar",caller="ann",status="400"} 1',
    'dbapi_requests_total{action="example/bar",caller="bob",status="200"} 1',
    'dbapi_requests_total{action="example/foo",caller="ann",status="429"} 1',
  ]);
  const ann = lines('dbapi_request_duration_seconds').filter((l) => l.includes('action="example/bar",caller="ann"'));
  expect(ann).toEqual([
    ...[['0.005', 1], ['0.01', 2], ['0.025', 2], ['0.05', 2], ['0.1', 2], ['0.25', 2], ['0.5', 3], ['1', 3], ['2.5', 3], ['5', 3], ['10', 3], ['30', 3], ['+Inf', 3]]
      .map(([le, n]) => `dbapi_request_duration_seconds_bucket{le="${le}",action="example/bar",caller="ann"} ${n}`),
    'dbapi_request_duration_seconds_sum{action="example/bar",caller="ann"} 0.314',
    'dbapi_request_duration_seconds_count{action="example/bar",caller="ann"} 3',
  ]);
  expect(text).toContain('dbapi_request_duration_seconds_bucket{le="30",action="example/bar",caller="bob"} 0');
  expect(text).toContain('dbapi_request_duration_seconds_bucket{le="+Inf",action="example/bar",caller="bob"} 1');
  expect(text).toContain('# TYPE dbapi_request_duration_seconds histogram');
  expect(text).toContain('dbapi_caller_rejections_total{caller="ann"} 1');
});
