import { Command, CommanderError } from 'commander';
import { CairnError, ExitCode } from '../errors.js';
import { registerInit } from './commands/init.js';
import { registerBackup } from './commands/backup.js';
import { registerSnapshots } from './commands/snapshots.js';
import { registerLs } from './commands/ls.js';
import { registerRestore } from './commands/restore.js';
import { registerCat } from './commands/cat.js';
import { registerCheck } from './commands/check.js';
import { registerUnlock } from './commands/unlock.js';
import { registerForget } from './commands/forget.js';
import { registerPrune } from './commands/prune.js';
import { registerCopy } from './commands/copy.js';
import { registerCleanup } from './commands/cleanup.js';
import { registerStackCommands } from './commands/components.js';
import { registerStats } from './commands/stats.js';
import { registerDiff } from './commands/diff.js';
import { registerKey } from './commands/key.js';
import { registerExport } from './commands/export.js';

/** Builds the cairn command tree. Each command lives in its own file and registers itself here. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('cairn')
    .description('Back up a homelab and bring it back. Repositories are restic v2: `restic` can read everything cairn writes.')
    .version('0.1.0')
    .exitOverride()
    .showSuggestionAfterError()
    .option('-r, --repo <location>', 'repository: a path, sftp:user@host:/path, s3:http://host/bucket, rest:http://host:8000/ (env CAIRN_REPOSITORY or RESTIC_REPOSITORY; default: the embedded local repository)')
    .option('-p, --password-file <file>', 'read the repository password from a file (env CAIRN_PASSWORD_FILE)')
    .option('--password-command <cmd>', 'run a command that prints the password (env CAIRN_PASSWORD_COMMAND)')
    .option('--json', 'machine-readable output (JSON; JSON lines for progress)')
    .addHelpText('after', `
Passwords: --password-file, --password-command, CAIRN_PASSWORD (RESTIC_PASSWORD* names work too).
Without -r, cairn uses its embedded default repository and a generated password file
(created on the first backup), so \`cairn backup ~/Documents\` works on a fresh machine.

Start here:
  cairn backup ~/Documents          back up a folder
  cairn snapshots                   list snapshots
  cairn restore latest --target /tmp/r
  cairn check --read-data           prove the backups can be read back`);
  for (const register of [registerInit, registerBackup, registerSnapshots, registerLs, registerRestore, registerCat, registerCheck, registerUnlock, registerForget, registerPrune, registerCopy, registerCleanup, registerStackCommands, registerStats, registerDiff, registerKey, registerExport]) register(program);
  return program;
}

/** Runs the CLI and returns the process exit code; user errors print one line and a remedy, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    return reportError(err);
  }
}

/** Prints an error for a human (or as JSON with --json) and maps it to an exit code. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
    return ExitCode.failure;
  }
  const json = process.argv.includes('--json');
  if (err instanceof CairnError) {
    if (json) process.stderr.write(JSON.stringify({ message_type: 'error', code: err.code, message: err.message, remedy: err.remedy }) + '\n');
    else process.stderr.write(`cairn: ${err.message}\n  remedy: ${err.remedy}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (json) process.stderr.write(JSON.stringify({ message_type: 'error', code: 'internal', message }) + '\n');
  else {
    process.stderr.write(`cairn: unexpected error: ${message}\n  remedy: this is a bug in cairn; rerun with CAIRN_DEBUG=1 for details and report it.\n`);
    if (process.env.CAIRN_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  }
  return ExitCode.failure;
}
