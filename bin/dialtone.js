#!/usr/bin/env node
// `npx dialtone …`: runs the TypeScript CLI through tsx (a dependency), so there is no build step.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../src/cli/main.ts');
const code = await run(process.argv.slice(2), process.env, {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
});
// Let stdout drain to a pipe before leaving.
process.exitCode = code;
