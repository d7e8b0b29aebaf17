/** A failure its message explains in full (a ref that does not exist, build or start): no stack trace. */
export class BenchError extends Error {}

/** A bad command line or environment: the message, then the usage. */
export class UsageError extends BenchError {}
