import type { Command } from 'commander';
import { CairnError } from '../../errors.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { masterKeyToJson } from '../../crypto/masterKey.js';

/** `cairn cat config|snapshot|index|key|masterkey|blob|tree`: print a repository object as JSON. */
export function registerCat(program: Command): void {
  program
    .command('cat')
    .description('print a repository object (config, snapshot ID, index ID, key ID, masterkey, tree ID, blob ID)')
    .argument('<type>', 'config | snapshot | index | key | masterkey | tree | blob | lock')
    .argument('[id]', 'the object id (snapshots: prefix or "latest"; tree: also SNAPSHOT:/path)')
    .action(async (type: string, id: string | undefined, _o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<RepoOptions>();
      const needId = () => {
        if (!id) throw new CairnError('usage', `cat ${type} needs an id`, `Run \`cairn cat ${type} ID\`; ids are listed by \`cairn snapshots\` or \`cairn list ${type}\`.`);
        return id;
      };
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
      try {
        switch (type) {
          case 'config':
            process.stdout.write(JSON.stringify(repo.config, null, 2) + '\n');
            break;
          case 'masterkey':
            process.stdout.write(JSON.stringify(JSON.parse(masterKeyToJson(repo.key)), null, 2) + '\n');
            break;
          case 'snapshot': {
            const s = await repo.resolveSnapshot(needId());
            process.stdout.write((await repo.loadJsonFile('snapshot', s.id)).toString('utf8') + '\n');
            break;
          }
          case 'index':
          case 'lock':
            process.stdout.write((await repo.loadJsonFile(type, needId())).toString('utf8') + '\n');
            break;
          case 'key':
            process.stdout.write(JSON.stringify(await repo.loadKeyFile(needId()), null, 2) + '\n');
            break;
          case 'tree':
          case 'blob': {
            await repo.loadIndex();
            const buf = await repo.loadBlob(type === 'tree' ? 'tree' : 'data', needId());
            process.stdout.write(buf);
            break;
          }
          default:
            throw new CairnError('usage', `unknown object type "${type}"`, 'Use one of: config, snapshot, index, key, masterkey, tree, blob, lock.');
        }
      } finally {
        await repo.close();
      }
    });
}
