import { Command, CommanderError } from 'commander';
import { CairnError, ExitCode } from '../errors.js';

/** A module of src/cli/commands/ and the commands it registers, loaded only when one of them runs (or for the full help). */
interface CommandModule {
  names: readonly string[];
  load: () => Promise<(program: Command) => unknown>;
}

// Listed in the order `cairn --help` shows them. Each module pulls in only what its own
// commands need, so `cairn snapshots` never loads the archiver, nor `cairn backup` the
// config parser; test/unit/cliStartup.test.ts checks these names against the commands.
/** Every command module, with the command names it registers. */
export const COMMAND_MODULES: readonly CommandModule[] = [
  { names: ['init'], load: async () => (await import('./commands/init.js')).registerInit },
  { names: ['backup'], load: async () => (await import('./commands/backup.js')).registerBackup },
  { names: ['snapshots'], load: async () => (await import('./commands/snapshots.js')).registerSnapshots },
  { names: ['ls'], load: async () => (await import('./commands/ls.js')).registerLs },
  { names: ['restore'], load: async () => (await import('./commands/restore.js')).registerRestore },
  { names: ['cat'], load: async () => (await import('./commands/cat.js')).registerCat },
  { names: ['check'], load: async () => (await import('./commands/check.js')).registerCheck },
  { names: ['unlock'], load: async () => (await import('./commands/unlock.js')).registerUnlock },
  { names: ['forget'], load: async () => (await import('./commands/forget.js')).registerForget },
  { names: ['prune'], load: async () => (await import('./commands/prune.js')).registerPrune },
  { names: ['copy'], load: async () => (await import('./commands/copy.js')).registerCopy },
  { names: ['cleanup'], load: async () => (await import('./commands/cleanup.js')).registerCleanup },
  { names: ['teardown', 'recover'], load: async () => (await import('./commands/components.js')).registerStackCommands },
  { names: ['stats'], load: async () => (await import('./commands/stats.js')).registerStats },
  { names: ['diff'], load: async () => (await import('./commands/diff.js')).registerDiff },
  { names: ['key'], load: async () => (await import('./commands/key.js')).registerKey },
  { names: ['export'], load: async () => (await import('./commands/export.js')).registerExport },
];

/** The program with its own options and help, and no commands yet. */
function programShell(): Command {
  const program = new Command()
    .name('cairn')
    .description('Back up a homelab and bring it back. Repositories are restic v2: `restic` can read everything cairn writes.')
    .version('0.1.0')
    .exitOverride()
    .showSuggestionAfterError();
  return globalOptions(program).addHelpText('after', `
Passwords: --password-file, --password-command, CAIRN_PASSWORD (RESTIC_PASSWORD* names work too).
Without -r, cairn uses its embedded default repository and a generated password file
(created on the first backup), so \`cairn backup ~/Documents\` works on a fresh machine.

Start here:
  cairn backup ~/Documents          back up a folder
  cairn snapshots                   list snapshots
  cairn restore latest --target /tmp/r
  cairn check --read-data           prove the backups can be read back`);
}

/** Adds the options every command accepts (before or after the command name). */
function globalOptions(cmd: Command): Command {
  return cmd
    .option('-r, --repo <location>', 'repository: a path, sftp:user@host:/path, s3:http://host/bucket, rest:http://host:8000/ (env CAIRN_REPOSITORY or RESTIC_REPOSITORY; default: the embedded local repository)')
    .option('-p, --password-file <file>', 'read the repository password from a file (env CAIRN_PASSWORD_FILE)')
    .option('--password-command <cmd>', 'run a command that prints the password (env CAIRN_PASSWORD_COMMAND)')
    .option('--json', 'machine-readable output (JSON; JSON lines for progress)');
}

/**
 * The command modules a command line needs: the one whose command it names;
 * none for a bare --version; all of them otherwise (help, a typo commander
 * should suggest a fix for, no command at all).
 */
export function modulesFor(args: readonly string[]): readonly CommandModule[] {
  // commander's own parser, knowing only the global options, finds the first operand: the command name.
  const probe = globalOptions(new Command()).exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  let parsed: { operands: string[]; unknown: string[] };
  try {
    parsed = probe.parseOptions([...args]);
  } catch {
    return COMMAND_MODULES; // e.g. -r without a value: the real parse reports it
  }
  const name = parsed.operands[0];
  if (name === undefined && parsed.unknown.length > 0 && (parsed.unknown[0] === '-V' || parsed.unknown[0] === '--version')) return [];
  const wanted = COMMAND_MODULES.find((m) => name !== undefined && m.names.includes(name));
  return wanted ? [wanted] : COMMAND_MODULES;
}

/** Builds the cairn command tree with the commands of the given modules (default: all). Each command lives in its own file. */
export async function buildProgram(modules: readonly CommandModule[] = COMMAND_MODULES): Promise<Command> {
  const program = programShell();
  const registers = await Promise.all(modules.map((m) => m.load()));
  for (const register of registers) register(program);
  return program;
}

/** Runs the CLI and returns the process exit code; user errors print one line and a remedy, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(modulesFor(argv.slice(2)));
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
