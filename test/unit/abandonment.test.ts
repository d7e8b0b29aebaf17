import { Abandonment } from '../../src/http/abandonment';

describe('The abandonment of a request', () => {
  it('aborts a signal asked for before it happened', () => {
    const abandonment = new Abandonment();
    const signal = abandonment.signal;
    expect(signal.aborted).toBe(false);
    abandonment.abandon();
    expect(signal.aborted).toBe(true);
  });

  it('gives an already aborted signal to a handler that asks only after it happened', () => {
    const abandonment = new Abandonment();
    abandonment.abandon();
    expect(abandonment.signal.aborted).toBe(true);
    expect(() => abandonment.signal.throwIfAborted()).toThrow();
  });

  it('gives every asker the same signal, aborted once', () => {
    const abandonment = new Abandonment();
    const aborts = jest.fn();
    abandonment.signal.addEventListener('abort', aborts);
    abandonment.abandon();
    abandonment.abandon();
    expect(abandonment.signal).toBe(abandonment.signal);
    expect(aborts).toHaveBeenCalledTimes(1);
  });
});
