/** What a client is told when an insert or update hits one of our unique indexes. */
const MESSAGES: Record<string, string> = {
  idx_users_email: 'The email is already registered',
  idx_users_username: 'The username is already taken',
};

export const UNIQUE_VIOLATION = '23505';

/** The helpful 409 detail for a PostgreSQL unique violation, or undefined if `error` is not one. */
export function uniqueViolationDetail(error: unknown): string | undefined {
  const driverError = (error as { driverError?: { code?: string; constraint?: string } })?.driverError ?? (error as { code?: string; constraint?: string });
  if (driverError?.code !== UNIQUE_VIOLATION) return undefined;
  return MESSAGES[driverError.constraint ?? ''] ?? 'The resource already exists';
}
