/**
 * Whether anybody still waits for a request's answer (the deadline passed, or the client hung up),
 * as an AbortSignal made only when a handler asks for one. Few handlers do (those that hash a
 * password), and an AbortController made for every request, with its listeners, was about 1 % of
 * a get by id's CPU (bench/results/profile-before.md).
 */
export class Abandonment {
  private controller: AbortController | undefined;
  private abandoned = false;

  /** Aborted once the request is abandoned, including when that happened before it was asked for. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abandoned) this.controller.abort();
    }
    return this.controller.signal;
  }

  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.controller?.abort();
  }
}
