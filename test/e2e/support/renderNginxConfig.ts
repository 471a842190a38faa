// CI's `nginx -t` step: renders the shipped template into a temp dir and prints that dir (see .ci/run).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNginxConfig } from './nginxConfig';

const dir = mkdtempSync(join(tmpdir(), 'dbapi-nginx-check-'));
writeNginxConfig({ dir, port: 8080, upstreamPorts: [8001, 8002] });
process.stdout.write(`${dir}\n`);
