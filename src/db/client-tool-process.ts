import { spawn } from 'node:child_process';

/** What is kept of a tool's stderr for the error message: its last lines say why it failed. */
const STDERR_TAIL = 4000;

export class ClientToolFailed extends Error {
  constructor(
    readonly tool: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${tool} failed (${exitCode === null ? 'killed' : `exit code ${exitCode}`})${stderr ? `: ${stderr}` : ''}`);
  }
}

/**
 * Runs pg_dump or pg_restore with `env` added to this process's environment (where PGPASSWORD goes:
 * never on the command line). Resolves when it exits 0; otherwise rejects with the end of its stderr.
 * Aborting `signal` terminates it.
 */
export function runClientTool(file: string, args: string[], env: Record<string, string>, signal?: AbortSignal): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], signal });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-STDERR_TAIL)));
    child.on('error', (error) => reject(error.name === 'AbortError' ? new ClientToolFailed(file, null, 'interrupted') : error));
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout });
      else if (!signal?.aborted) reject(new ClientToolFailed(file, code, stderr.trim()));
    });
  });
}
