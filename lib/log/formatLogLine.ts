// One ECS JSON log line as one short line for a terminal: time, level, message, then the fields that matter
// (request id, caller, duration in ms, error code and message, anything else a line carries), boilerplate left out.
const BOILERPLATE = new Set(['@timestamp', 'log.level', 'message', 'ecs.version', 'process.pid', 'host.hostname', 'log.logger', 'service.name']);
const LEVELS: Record<string, string> = { trace: '90', debug: '36', info: '32', warn: '33', error: '31', fatal: '35' };

export function formatLogLine(line: string, colour = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line);
  } catch {
    return line; // not JSON (npm's or tsx's own lines): as it is
  }
  if (!entry || typeof entry !== 'object') return line;
  const flat = flatten(entry);
  const time = typeof flat['@timestamp'] === 'string' ? (flat['@timestamp'] as string).slice(11, 23) : '';
  const level = String(flat['log.level'] ?? '');
  const shownLevel = level.toUpperCase().padEnd(5);
  const message = String(flat.message ?? '');
  const fields: string[] = [];
  for (const [key, value] of Object.entries(flat)) {
    if (BOILERPLATE.has(key)) continue;
    if (key === 'event.duration' && typeof value === 'number') fields.push(`${(value / 1e6).toFixed(1)}ms`);
    else if (key === 'http.request.id' && typeof value === 'string') fields.push(`req=${value}`);
    else if (['http.request.method', 'url.path', 'http.response.status_code'].includes(key) && message.includes(String(value))) continue;
    else if (key === 'error.stack_trace' && typeof value === 'string') fields.push(`stack=${JSON.stringify(value.split('\n').slice(0, 2).join(' | '))}`);
    else fields.push(`${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`);
  }
  const head = colour && LEVELS[level] ? `\u001b[${LEVELS[level]}m${shownLevel}\u001b[0m` : shownLevel;
  return [time, head, message, ...fields].filter(Boolean).join(' ');
}

function flatten(value: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [key, v] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, name, out);
    else out[name] = v;
  }
  return out;
}
