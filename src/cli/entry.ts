import { main } from './main.js';

/** Process entry point (bin/cairn.js uses the built copy of this). */
main(process.argv).then((code) => {
  process.exitCode = code;
  // Every command closes what it opened; should a connection still linger
  // (a server that never answers a close), the process ends anyway.
  setTimeout(() => process.exit(code), 3000).unref();
});
