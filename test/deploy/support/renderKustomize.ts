// Renders k8s/ with kustomize (kubectl's built-in `kubectl kustomize`, offline) into parsed documents. The production
// overlay's secrets are files kept out of git: a copy of k8s/ gets stand-in files, as an operator's checkout would.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const K8S_DIR = join(__dirname, '..', '..', '..', 'k8s');

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; [k: string]: any }; [k: string]: any };

export function renderKustomize(path: 'base' | 'overlays/production'): Manifest[] {
  const dir = mkdtempSync(join(tmpdir(), 'dbapi-k8s-'));
  try {
    cpSync(K8S_DIR, dir, { recursive: true });
    writeFileSync(join(dir, 'overlays/production/secrets/bearer'), 'k8s-test-token-0123456789abcdef\n');
    writeFileSync(join(dir, 'overlays/production/secrets/database-url'), 'postgres://dbapi:secret@db:5432/dbapi\n');
    let out: string;
    try {
      out = execFileSync('kubectl', ['kustomize', join(dir, path)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { code?: string; stderr?: string; message: string };
      if (err.code === 'ENOENT') throw new Error('kubectl (with its built-in kustomize) is needed to render k8s/');
      throw new Error(`kubectl kustomize ${path} failed: ${err.stderr ?? err.message}`);
    }
    return parseAllDocuments(out).map((d) => d.toJS() as Manifest).filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
