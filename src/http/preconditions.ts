import crypto from 'node:crypto';

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

/** If-None-Match: `*`, or the opaque tags it lists (quotes kept, `W/` dropped: the comparison is weak). */
export type NoneMatch = '*' | string[];

const ENTITY_TAG = /^\s*(?:W\/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)/;

/**
 * Parses If-None-Match (RFC 9110): `*`, or a list of entity tags, weak or strong. Undefined when
 * absent. Parsing stops at the first thing that is not an entity tag; what came before still counts.
 */
export function parseIfNoneMatch(header: string | undefined): NoneMatch | undefined {
  if (header === undefined) return undefined;
  if (header.trim() === '*') return '*';
  const tags: string[] = [];
  for (let rest = header; rest.trim() !== '';) {
    const match = ENTITY_TAG.exec(rest);
    if (!match) break;
    tags.push(match[1]);
    rest = rest.slice(match[0].length);
  }
  return tags;
}

/** Whether the current ETag (weak or strong) matches If-None-Match, by weak comparison: `W/"x"` matches `"x"`. */
export function noneMatchHits(condition: NoneMatch, etag: string): boolean {
  return condition === '*' || condition.includes(etag.replace(/^W\//, ''));
}

/** A weak ETag for a response body: a hash of the text sent. */
export function weakEtagOf(text: string): string {
  return `W/"${crypto.hash('sha1', text, 'base64url')}"`;
}
