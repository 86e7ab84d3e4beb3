import { CairnError } from '../errors.js';
import { commandArgv, processStdout, programNotStartedError, runProcess, type ProcessFailure } from './processStream.js';
import type { Source, SourceItem, SourceRestoreOptions, StoredContent } from './source.js';

/** Options of a {@link CommandSource}: a command whose stdout is the backup. */
export interface CommandSourceOptions {
  /** The source's name inside its component; also the stored item's name unless `itemName` is set. */
  name: string;
  /** The backup command: argv, or a string run by /bin/sh -c. Its stdout is stored. */
  command: string | string[];
  /** The restore command: gets the stored stream on stdin; `CAIRN_RESTORE_TO` holds `--to` when given. */
  restoreCommand?: string | string[];
  /** Name of the stored file; default `name`. */
  itemName?: string;
  /** Working directory of both commands. */
  cwd?: string;
  /** Extra environment variables for both commands. */
  env?: Record<string, string>;
}

/** Shows a command in messages. */
function show(command: string | string[]): string {
  return typeof command === 'string' ? command : command.join(' ');
}

/**
 * Any command's stdout, stored as one file while the command runs (no temp
 * file). A command that exits non-zero fails the backup, never leaving a
 * truncated file behind as if it were complete. Restore runs the restore
 * command with the stored file on its stdin.
 */
export class CommandSource implements Source {
  readonly name: string;
  readonly kind = 'command';
  private readonly options: CommandSourceOptions;

  constructor(options: CommandSourceOptions) {
    if (!options.name) throw new CairnError('command-config', 'a command source needs a name', 'set "name" in the source options');
    this.options = options;
    this.name = options.name;
    commandArgv(options.command); // rejects an empty command now, not at backup time
  }

  /** The stored item's name. */
  get itemName(): string {
    return this.options.itemName ?? this.options.name;
  }

  private failure(what: 'backup' | 'restore', command: string | string[], f: ProcessFailure): CairnError {
    if (f.spawnError) return programNotStartedError(f);
    const how = f.signal ? `was killed by ${f.signal}` : `exited with code ${f.exitCode}`;
    return new CairnError(
      `command-${what}-failed`,
      `the ${what} command of source "${this.name}" (${show(command)}) ${how}${f.stderrTail ? `: ${f.stderrTail}` : ''}`,
      `run it by hand to see the whole output: ${show(command)}`,
    );
  }

  /** One stream item: the command's stdout. */
  async items(): Promise<SourceItem[]> {
    const [program, args] = commandArgv(this.options.command);
    const open = async () =>
      processStdout(program, args, {
        cwd: this.options.cwd,
        env: this.options.env,
        onFailure: (f) => this.failure('backup', this.options.command, f),
      });
    return [{ type: 'stream', name: this.itemName, open }];
  }

  /** Runs the restore command with the stored stream on stdin. */
  async restore(content: StoredContent, options: SourceRestoreOptions): Promise<void> {
    const command = this.options.restoreCommand;
    if (command === undefined) {
      throw new CairnError('command-no-restore', `source "${this.name}" has no restore command`, 'set restore_command in the source options (it gets the stored file on stdin), or restore the file itself with cairn restore --to DIR');
    }
    const names = await content.names();
    if (!names.includes(this.itemName)) {
      throw new CairnError('command-nothing-stored', `the backup has no ${this.itemName} for source "${this.name}" (it holds: ${names.join(', ') || 'nothing'})`, 'pick a snapshot made with this source');
    }
    const [program, args] = commandArgv(command);
    await runProcess(program, args, {
      stdin: await content.openStream(this.itemName),
      cwd: this.options.cwd,
      env: { ...this.options.env, ...(options.to !== undefined ? { CAIRN_RESTORE_TO: options.to } : {}) },
      onFailure: (f) => this.failure('restore', command, f),
    });
  }
}
