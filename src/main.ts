import { loadConfig } from './config.js';
import { createServer } from './server.js';

const config = loadConfig();
const server = await createServer(config);
const { httpUrl } = await server.listen();
const sip = await server.startSip();
server.logger.info({ httpUrl, database: server.store.kind }, 'Dialtone HTTP API listening');
console.log(`Dialtone listening: HTTP ${httpUrl} (bind ${config.host}:${config.port}), database ${server.store.kind}`);
console.log(`SIP listening on ${config.sip.host}: UDP ${sip.udpPort}, TCP ${sip.tcpPort}${sip.tlsPort ? `, TLS ${sip.tlsPort}` : ''}; Contact host ${config.sip.publicHost}`);
if (server.generatedAdminKey) {
  console.log(`Platform admin API key (shown once, store it now): ${server.generatedAdminKey}`);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    const deadline = setTimeout(() => process.exit(1), 10_000);
    deadline.unref();
    server.close().then(() => {
      console.log('Dialtone stopped');
      process.exit(0);
    }, () => process.exit(1));
  });
}
