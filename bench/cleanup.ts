import os from 'node:os';

interface Step {
  name: string;
  undo: () => unknown;
}

/**
 * What the bench must undo however it ends (done, failed, Ctrl-C, SIGTERM): server processes, the
 * database, scratch directories, the scratch git worktree. Each step runs once, the last registered
 * first, and a step that fails is reported without stopping the others.
 */
export class Cleanup {
  private readonly steps: Step[] = [];
  private readonly aborter = new AbortController();
  private unwinding?: Promise<void>;

  constructor(private readonly log: (message: string) => void) {}

  /** Aborted when cleaning up begins: long commands (npm ci, tsc) take it and stop. */
  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  /** A step registered while unwinding (a server that was starting as Ctrl-C came) runs after the others. */
  defer(name: string, undo: () => unknown): void {
    const step = { name, undo };
    if (this.unwinding) this.unwinding = this.unwinding.then(() => this.undo(step));
    else this.steps.push(step);
  }

  /** Resolves once every step has run, including steps registered meanwhile. */
  async run(): Promise<void> {
    this.aborter.abort();
    this.unwinding ??= this.unwind();
    for (let current: Promise<void> | undefined; current !== this.unwinding;) {
      current = this.unwinding;
      await current;
    }
  }

  /**
   * A terminal's Ctrl-C reaches npm, this process and its children at once, and npm forwards it once
   * more: clean up on the first signal, then exit as the signal would have.
   */
  runOnSignals(): void {
    let received = false;
    const stop = (signal: NodeJS.Signals) => {
      if (received) return;
      received = true;
      this.log(`${signal} received: cleaning up`);
      void this.run().finally(() => process.exit(128 + os.constants.signals[signal]));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  }

  private async unwind(): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) await this.undo(step);
  }

  private async undo(step: Step): Promise<void> {
    try {
      await step.undo();
    } catch (error) {
      this.log(`could not ${step.name}: ${(error as Error).message}`);
    }
  }
}
