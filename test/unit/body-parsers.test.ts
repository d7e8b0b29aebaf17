import fc from 'fast-check';
import { hasBody } from '../../src/http/body-parsers';

// body-parser's own test for a body (type-is ships no types; it comes with Express).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const typeIs = require('type-is') as { hasBody(req: { headers: Record<string, string> }): boolean };

describe('The body parsers skipped for a request without a body', () => {
  it('decide that a request has a body exactly as body-parser itself does, for any Content-Length and Transfer-Encoding', () => {
    const header = fc.option(fc.oneof(fc.constantFrom('0', '12', '', ' ', '1e3', '0x10', '-1', 'abc', 'chunked', 'NaN'), fc.string({ maxLength: 6 })), {
      nil: undefined,
    });
    fc.assert(
      fc.property(header, header, (contentLength, transferEncoding) => {
        const headers: Record<string, string> = {};
        if (contentLength !== undefined) headers['content-length'] = contentLength;
        if (transferEncoding !== undefined) headers['transfer-encoding'] = transferEncoding;
        expect(hasBody(headers)).toBe(typeIs.hasBody({ headers }));
      }),
      { numRuns: 500 },
    );
  });
});
