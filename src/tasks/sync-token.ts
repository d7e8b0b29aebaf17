import crypto from 'node:crypto';

/**
 * Sync tokens: where a client's copy of its tasks stands, as PostgreSQL snapshots (docs/sync.md).
 * Opaque to clients: base64url of a small binary record and an HMAC over it, with a key derived
 * from JWT_SECRET, so a token cannot be forged or edited, and it names the user it was issued to.
 */

/** A snapshot (`pg_current_snapshot()`): transactions below xmin are done, from xmax on not started, xip were running. */
export interface Snapshot {
  xmin: bigint;
  xmax: bigint;
  /** Ascending, each in [xmin, xmax). */
  xip: bigint[];
}

/** A place in the order of a sync's rows: the transaction that last changed a task, then its id. */
export interface Position {
  xid: bigint;
  id: string;
}

/** A snapshot and when it was taken (database clock, seconds since the epoch). */
export interface TakenSnapshot {
  snapshot: Snapshot;
  at: number;
}

/**
 * Where the next page starts. `full`: in the middle of a full sync that began at `lower`; `changes`:
 * the changes since `lower` and, in the middle of a round of pages, only those `upper` can see.
 */
export type SyncCursor =
  { kind: 'full'; lower: TakenSnapshot; after: Position } | { kind: 'changes'; lower: TakenSnapshot; upper?: TakenSnapshot; after?: Position };

/** More transactions than this running at once, and a snapshot is kept as "everything from xmin on" (see coarsen). */
export const MAX_XIP = 256;

/** Longer than any token this service issues (two snapshots of MAX_XIP entries); anything longer is not one. */
export const MAX_TOKEN_LENGTH = 4096;

const VERSION = 1;
const MAC_BYTES = 16;
const KINDS = ['changes', 'full'] as const;

export class SyncTokenError extends Error {
  constructor(readonly reason: 'malformed' | 'other_user') {
    super(reason);
  }
}

/**
 * The same snapshot with its list of running transactions forgotten: everything from xmin on counts
 * as not yet seen. A sync from it returns a few changes twice, never misses one; it keeps tokens
 * short when thousands of transactions run at once.
 */
export function coarsen(snapshot: Snapshot): Snapshot {
  return snapshot.xip.length > MAX_XIP ? { xmin: snapshot.xmin, xmax: snapshot.xmin, xip: [] } : snapshot;
}

export class SyncTokenCodec {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(crypto.hkdfSync('sha256', secret, Buffer.alloc(0), 'todo-service sync token v1', 32));
  }

  encode(userId: string, cursor: SyncCursor): string {
    const out: number[] = [VERSION, ...uuidBytes(userId), KINDS.indexOf(cursor.kind)];
    writeTaken(out, cursor.lower);
    const upper = cursor.kind === 'changes' ? cursor.upper : undefined;
    out.push(upper ? 1 : 0);
    if (upper) writeTaken(out, upper);
    out.push(cursor.after ? 1 : 0);
    if (cursor.after) {
      writeVarint(out, cursor.after.xid);
      out.push(...uuidBytes(cursor.after.id));
    }
    const body = Buffer.from(out);
    return Buffer.concat([body, this.mac(body)]).toString('base64url');
  }

  /** The cursor of a token this service issued to `userId`; SyncTokenError for anything else. */
  decode(token: string, userId: string): SyncCursor {
    if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) throw new SyncTokenError('malformed');
    const raw = Buffer.from(token, 'base64url');
    // Only the one spelling this service writes: the decoder would ignore stray trailing characters.
    if (raw.length <= MAC_BYTES || raw.toString('base64url') !== token) throw new SyncTokenError('malformed');
    const body = raw.subarray(0, raw.length - MAC_BYTES);
    if (!crypto.timingSafeEqual(raw.subarray(raw.length - MAC_BYTES), this.mac(body))) throw new SyncTokenError('malformed');
    const reader = new Reader(body);
    if (reader.byte() !== VERSION) throw new SyncTokenError('malformed');
    if (uuidText(reader.bytes(16)) !== userId.toLowerCase()) throw new SyncTokenError('other_user');
    const kind = KINDS[reader.byte()];
    const lower = readTaken(reader);
    const upper = reader.flag() ? readTaken(reader) : undefined;
    const after = reader.flag() ? { xid: reader.varint(), id: uuidText(reader.bytes(16)) } : undefined;
    reader.end();
    if (kind === 'full' && after && !upper) return { kind, lower, after };
    if (kind === 'changes' && (upper === undefined) === (after === undefined)) return { kind, lower, upper, after };
    throw new SyncTokenError('malformed');
  }

  private mac(body: Buffer): Buffer {
    return crypto.createHmac('sha256', this.key).update(body).digest().subarray(0, MAC_BYTES);
  }
}

function uuidBytes(id: string): number[] {
  return [...Buffer.from(id.replaceAll('-', ''), 'hex')];
}

function uuidText(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Snapshots as xmin, then differences: xmax − xmin and each running transaction from the one before. */
function writeTaken(out: number[], { snapshot, at }: TakenSnapshot): void {
  writeVarint(out, BigInt(at));
  writeVarint(out, snapshot.xmin);
  writeVarint(out, snapshot.xmax - snapshot.xmin);
  writeVarint(out, BigInt(snapshot.xip.length));
  let previous = snapshot.xmin;
  for (const xid of snapshot.xip) {
    writeVarint(out, xid - previous);
    previous = xid;
  }
}

function readTaken(reader: Reader): TakenSnapshot {
  const at = Number(reader.varint());
  const xmin = reader.varint();
  const xmax = xmin + reader.varint();
  const count = reader.varint();
  if (count > BigInt(MAX_XIP)) throw new SyncTokenError('malformed');
  const xip: bigint[] = [];
  let previous = xmin;
  for (let i = 0n; i < count; i += 1n) {
    const xid = previous + reader.varint();
    // Ascending and inside [xmin, xmax): the first may equal xmin, the others must grow.
    if (xid >= xmax || (i > 0n && xid === previous)) throw new SyncTokenError('malformed');
    xip.push(xid);
    previous = xid;
  }
  return { snapshot: { xmin, xmax, xip }, at };
}

/** Unsigned LEB128: seven bits a byte, low bits first. */
function writeVarint(out: number[], value: bigint): void {
  if (value < 0n) throw new RangeError('a sync token holds no negative numbers');
  let rest = value;
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    out.push(rest > 0n ? low | 0x80 : low);
  } while (rest > 0n);
}

class Reader {
  private offset = 0;

  constructor(private readonly buffer: Buffer) {}

  byte(): number {
    if (this.offset >= this.buffer.length) throw new SyncTokenError('malformed');
    return this.buffer[this.offset++];
  }

  flag(): boolean {
    const value = this.byte();
    if (value > 1) throw new SyncTokenError('malformed');
    return value === 1;
  }

  bytes(count: number): Buffer {
    if (this.offset + count > this.buffer.length) throw new SyncTokenError('malformed');
    this.offset += count;
    return this.buffer.subarray(this.offset - count, this.offset);
  }

  /** At most 64 bits (ten bytes), as every number a token holds fits in a bigint column. */
  varint(): bigint {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = this.byte();
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        if (value >= 1n << 63n) throw new SyncTokenError('malformed');
        return value;
      }
    }
    throw new SyncTokenError('malformed');
  }

  end(): void {
    if (this.offset !== this.buffer.length) throw new SyncTokenError('malformed');
  }
}
