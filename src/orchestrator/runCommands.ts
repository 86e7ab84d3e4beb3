import { spawn } from 'node:child_process';
import { CairnError } from '../errors.js';
import { normalizeCommand, type CommandConfig } from './config.js';

/** Runs one configured command with /bin/sh -c; throws a CairnError naming the command, its exit code and stderr's last line. */
export function runCommand(command: CommandConfig, what: string, extraEnv: Record<string, string> = {}): Promise<void> {
  const c = normalizeCommand(command);
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', c.run], { cwd: c.cwd, env: { ...process.env, ...c.env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const timer = c.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), c.timeoutMs) : undefined;
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CairnError('command-failed', `${what} \`${c.run}\` could not start: ${err.message}`, 'Check the command in cairn.yaml.'));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const last = stderr.trim().split('\n').pop() ?? '';
      const how = signal ? `was killed (${signal}${c.timeoutMs ? `, timeout ${c.timeoutMs / 1000}s` : ''})` : `exited with ${code}`;
      reject(new CairnError('command-failed', `${what} \`${c.run}\` ${how}${last ? `: ${last}` : ''}`, 'Run the command by hand to see why it fails, then fix it in cairn.yaml.'));
    });
  });
}

/** Runs commands in order; stops at the first failure. */
export async function runCommands(commands: readonly CommandConfig[], what: string, extraEnv: Record<string, string> = {}): Promise<void> {
  for (const c of commands) await runCommand(c, what, extraEnv);
}
