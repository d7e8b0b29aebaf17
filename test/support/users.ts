import crypto from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';

export interface SignedUpUser {
  id: string;
  email: string;
  username: string;
  password: string;
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

let counter = 0;

export function newUserFields(overrides: Partial<Omit<SignedUpUser, 'id'>> = {}) {
  counter += 1;
  const tag = `${process.pid}_${counter}_${crypto.randomBytes(3).toString('hex')}`;
  return { email: `user_${tag}@example.com`, username: `user_${tag}`, password: 'correct horse battery', ...overrides };
}

export async function signUp(app: Express, overrides: Partial<Omit<SignedUpUser, 'id'>> = {}): Promise<SignedUpUser> {
  const fields = newUserFields(overrides);
  const response = await request(app).post('/api/v1/users/signup').send(fields);
  if (response.status !== 201) throw new Error(`signup failed: ${response.status} ${response.text}`);
  return { ...fields, id: response.body.id };
}

export async function logIn(app: Express, username: string, password: string): Promise<Tokens> {
  const response = await request(app).post('/api/v1/login/access-token').type('form').send({ username, password });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${response.text}`);
  return response.body;
}

/** A new user with a session: what most tests start from. */
export async function signUpAndLogIn(app: Express): Promise<SignedUpUser & { tokens: Tokens; auth: { Authorization: string } }> {
  const user = await signUp(app);
  const tokens = await logIn(app, user.username, user.password);
  return { ...user, tokens, auth: { Authorization: `Bearer ${tokens.access_token}` } };
}

export function bearer(accessToken: string): { Authorization: string } {
  return { Authorization: `Bearer ${accessToken}` };
}

/** A JWT with any header and claims, signed HS256 with `secret` (or unsigned for alg "none"). */
export function forgeJwt(header: Record<string, unknown>, claims: Record<string, unknown>, secret?: string): string {
  const encode = (part: unknown) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const unsigned = `${encode(header)}.${encode(claims)}`;
  const signature = secret ? crypto.createHmac('sha256', secret).update(unsigned).digest('base64url') : '';
  return `${unsigned}.${signature}`;
}

export function decodeJwt(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

/** The fullwidth form (U+FF01-U+FF5E) of each printable ASCII character: what NFKC folds back to ASCII. */
export function toFullwidth(text: string): string {
  return text.replace(/[!-~]/g, (character) => String.fromCharCode(character.charCodeAt(0) + 0xfee0));
}
