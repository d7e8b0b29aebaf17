import dgram from 'node:dgram';

/**
 * A DNS server on loopback that answers A queries for the names it is given, the way Docker's DNS
 * answers a compose service's name with one record per replica; any other name is NXDOMAIN.
 */
export interface DnsServer {
  address: string;
  /** The addresses `name` resolves to from now on. */
  answer(name: string, addresses: string[]): void;
  close(): Promise<void>;
}

const TYPE_A = 1;
const CLASS_IN = 1;

export async function startDnsServer(): Promise<DnsServer> {
  const records = new Map<string, string[]>();
  const socket = dgram.createSocket('udp4');
  socket.on('message', (query, peer) => {
    const response = respond(query, records);
    if (response) socket.send(response, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    answer: (name, addresses) => records.set(name.toLowerCase(), addresses),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/** The reply to one query (RFC 1035 §4): its header and question echoed, then one A record per address. */
function respond(query: Buffer, records: Map<string, string[]>): Buffer | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let offset = 12;
  while (offset < query.length && query[offset] !== 0) {
    labels.push(query.toString('ascii', offset + 1, offset + 1 + query[offset]));
    offset += 1 + query[offset];
  }
  const questionEnd = offset + 5;
  if (questionEnd > query.length) return undefined;
  const type = query.readUInt16BE(offset + 1);
  const addresses = records.get(labels.join('.').toLowerCase());
  const answers = type === TYPE_A && addresses ? addresses : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // A response to a recursive query, recursion available; NXDOMAIN for a name it does not know.
  header.writeUInt16BE(0x8180 | (addresses ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const answerRecords = answers.map((address) => {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    record.writeUInt16BE(TYPE_A, 2);
    record.writeUInt16BE(CLASS_IN, 4);
    record.writeUInt32BE(1, 6);
    record.writeUInt16BE(4, 10);
    address.split('.').forEach((octet, index) => record.writeUInt8(Number(octet), 12 + index));
    return record;
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answerRecords]);
}
