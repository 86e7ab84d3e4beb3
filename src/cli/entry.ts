import { main } from './main.js';

/** Process entry point (bin/cairn.js uses the built copy of this). */
main(process.argv).then((code) => {
  process.exitCode = code;
});
