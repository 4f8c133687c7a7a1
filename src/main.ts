import { loadConfig } from './config.js';
import { createServer } from './server.js';

const config = loadConfig();
const server = await createServer(config);
const { httpUrl } = await server.listen();
const sip = await server.startSip();
// Said whatever LOG_LEVEL is: where it listens is the first thing an operator looks for.
const announce = server.logger.child({ component: 'main' }, { level: 'info' });
announce.info({ httpUrl, bind: `${config.host}:${config.port}`, database: server.store.kind },
  `Dialtone listening: HTTP ${httpUrl} (bind ${config.host}:${config.port}), database ${server.store.kind}`);
announce.info({ sipHost: config.sip.host, udp: sip.udpPort, tcp: sip.tcpPort, tls: sip.tlsPort ?? null, contactHost: config.sip.publicHost },
  `SIP listening on ${config.sip.host}: UDP ${sip.udpPort}, TCP ${sip.tcpPort}${sip.tlsPort ? `, TLS ${sip.tlsPort}` : ''}; Contact host ${config.sip.publicHost}`);
if (server.generatedAdminKey) {
  // To the terminal, outside the JSON log: a log pipeline keeps what it is given, and this is a secret.
  process.stderr.write(`Platform admin API key (shown once, store it now): ${server.generatedAdminKey}\n`);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    const deadline = setTimeout(() => process.exit(1), 10_000);
    deadline.unref();
    server.close().then(() => {
      announce.info('Dialtone stopped');
      process.exit(0);
    }, () => process.exit(1));
  });
}
