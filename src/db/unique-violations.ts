export const UNIQUE_VIOLATION = '23505';

/**
 * Whether `error` is PostgreSQL's unique violation (of the index or constraint `constraint`, when
 * given), as pg raises it or as TypeORM wraps it. Repositories use it to turn a taken value into
 * their own domain error.
 */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const driverError = (error as { driverError?: { code?: string; constraint?: string } })?.driverError ?? (error as { code?: string; constraint?: string });
  return driverError?.code === UNIQUE_VIOLATION && (constraint === undefined || driverError.constraint === constraint);
}
