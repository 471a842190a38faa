// The gateway as the fault suite runs it: the real gateway, serving modules/ plus the reliability test module.
import { join } from 'node:path';
import { loadSettings } from '../src/settings';
import { startGateway } from '../src/startGateway';

async function main() {
  const root = join(__dirname, '..');
  const settings = loadSettings(process.env, root);
  const gateway = await startGateway(settings, {
    moduleDirs: [join(root, 'modules'), join(root, 'test', 'fixtures', 'reliability')],
    stdout: false, listen: { host: '127.0.0.1' }, migrateNow: true,
  });
  process.stdout.write(`listening ${gateway.port}\n`);
  process.on('SIGTERM', async () => {
    await gateway.stop();
    process.exit(0);
  });
}

main().catch((e) => {
  process.stderr.write(`fault gateway: ${e?.stack ?? e}\n`);
  process.exit(1);
});
