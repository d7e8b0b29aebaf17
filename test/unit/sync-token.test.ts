import fc from 'fast-check';
import { coarsen, MAX_TOKEN_LENGTH, MAX_XIP, SyncTokenCodec, SyncTokenError, type Snapshot, type SyncCursor } from '../../src/tasks/sync-token';

const codec = new SyncTokenCodec('unit-test-secret-0123456789abcdefghijklmnopqrstuvwxyz');

/** Snapshots as PostgreSQL makes them: xmin ≤ each running transaction < xmax, ascending, as large as a bigint allows. */
const snapshot: fc.Arbitrary<Snapshot> = fc
  .tuple(
    fc.bigInt({ min: 1n, max: 2n ** 62n }),
    fc.bigInt({ min: 0n, max: 2n ** 40n }),
    fc.array(fc.bigInt({ min: 0n, max: 2n ** 40n }), { maxLength: MAX_XIP }),
  )
  .map(([xmin, span, offsets]) => {
    const xip = [...new Set(offsets.filter((offset) => offset < span))].sort((a, b) => (a < b ? -1 : 1)).map((offset) => xmin + offset);
    return { xmin, xmax: xmin + span, xip };
  });
const taken = fc.record({ snapshot, at: fc.integer({ min: 0, max: 2 ** 32 }) });
const position = fc.record({ xid: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), id: fc.uuid() });
const cursor: fc.Arbitrary<SyncCursor> = fc.oneof(
  fc.record({ kind: fc.constant('full' as const), lower: taken, after: position }),
  fc.record({ kind: fc.constant('changes' as const), lower: taken }),
  fc.record({ kind: fc.constant('changes' as const), lower: taken, upper: taken, after: position }),
);

function refusal(token: string, userId: string): string | undefined {
  try {
    codec.decode(token, userId);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(SyncTokenError);
    return (error as SyncTokenError).reason;
  }
}

describe('sync tokens', () => {
  it('decode to the cursor they were made of, for the user they were made for, and stay URL-safe and short', () => {
    fc.assert(
      fc.property(fc.uuid(), cursor, (userId, made) => {
        const token = codec.encode(userId, made);
        expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(token.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
        expect(codec.decode(token, userId)).toEqual(made);
      }),
      { numRuns: 300 },
    );
  });

  it("are refused as another user's when decoded for someone else", () => {
    fc.assert(
      fc.property(fc.uuid(), fc.uuid(), cursor, (owner, other, made) => {
        fc.pre(owner.toLowerCase() !== other.toLowerCase());
        expect(refusal(codec.encode(owner, made), other)).toBe('other_user');
      }),
    );
  });

  it('are refused as malformed when any byte is changed, cut or added, or the key differs', () => {
    const otherKey = new SyncTokenCodec('another-secret-0123456789abcdefghijklmnopqrstuvwxyz');
    fc.assert(
      fc.property(fc.uuid(), cursor, fc.nat(), fc.integer({ min: 1, max: 255 }), (userId, made, at, flip) => {
        const raw = Buffer.from(codec.encode(userId, made), 'base64url');
        const edited = Buffer.from(raw);
        edited[at % raw.length] ^= flip;
        expect(refusal(edited.toString('base64url'), userId)).toBe('malformed');
        expect(refusal(raw.subarray(0, at % raw.length).toString('base64url'), userId)).toBe('malformed');
        expect(refusal(Buffer.concat([raw, Buffer.from([flip])]).toString('base64url'), userId)).toBe('malformed');
        expect(refusal(otherKey.encode(userId, made), userId)).toBe('malformed');
      }),
      { numRuns: 300 },
    );
  });

  it('are refused as malformed for any text that is not one: another alphabet, another spelling of the same bytes, too long', () => {
    const token = codec.encode('00000000-0000-4000-8000-000000000001', { kind: 'changes', lower: { snapshot: { xmin: 5n, xmax: 9n, xip: [6n] }, at: 1 } });
    for (const text of ['', '*x', `${token}=`, `${token}A`, `+${token.slice(1)}`, `${token.slice(0, -1)}/`, 'A'.repeat(MAX_TOKEN_LENGTH + 1)]) {
      expect(refusal(text, '00000000-0000-4000-8000-000000000001')).toBe('malformed');
    }
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => expect(refusal(text, '00000000-0000-4000-8000-000000000001')).toBe('malformed')));
  });
});

describe('coarsen', () => {
  it('keeps a snapshot with few running transactions, and forgets them past MAX_XIP: everything from xmin on counts as unseen', () => {
    const few = { xmin: 10n, xmax: 20n, xip: [11n, 15n] };
    expect(coarsen(few)).toBe(few);
    const many = { xmin: 10n, xmax: 10n + BigInt(MAX_XIP) + 5n, xip: Array.from({ length: MAX_XIP + 1 }, (_, i) => 10n + BigInt(i)) };
    expect(coarsen(many)).toEqual({ xmin: 10n, xmax: 10n, xip: [] });
  });
});
