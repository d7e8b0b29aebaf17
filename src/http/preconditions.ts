/**
 * Parses If-Match (RFC 9110): `*`, or a list of strong entity tags. Weak tags never match. Returns
 * the versions it accepts; undefined when it puts no condition (absent or `*`). A tag that is not
 * one of ours can match nothing, so it yields an empty list and a conditional write answers 412.
 */
export function parseIfMatch(header: string | undefined): string[] | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  return header
    .split(',')
    .map((tag) => /^\s*"(\d{1,18})"\s*$/.exec(tag)?.[1])
    .filter((version): version is string => version !== undefined);
}
