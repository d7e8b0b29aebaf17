import { isEmail, ValidateBy, type ValidationOptions } from 'class-validator';
import { scriptsOf } from './scripts';

/** The column's length, in characters as PostgreSQL counts them (code points). */
const MAX_LENGTH = 255;

/**
 * Characters nobody can see or tell apart: controls (Cc), format characters such as U+200B, U+202E
 * and U+FEFF (Cf), lone surrogates (Cs), private-use (Co) and unassigned (Cn) code points, and the
 * line and paragraph separators (Zl, Zp). Unassigned code points are refused too because their
 * normalisation may change when a later Unicode version assigns them.
 */
const INVISIBLE = /[\p{C}\p{Zl}\p{Zp}]/u;

/**
 * The one form in which emails are stored, compared and looked up: NFKC (fullwidth `ａ`, ligatures,
 * NFC and NFD all become one form), then lower case. NFKC runs again after lower-casing because
 * lower-casing can make a pair composable that was not (`H` + U+0331 has no precomposed form,
 * `h` + U+0331 is `ẖ`); NFKC, lower, NFKC is idempotent, which the tests check.
 */
export function normaliseEmail(email: string): string {
  return email.normalize('NFKC').toLowerCase().normalize('NFKC');
}

/**
 * Why `email` cannot name an account, or undefined if it can. Checked on the normalised form, since
 * that is what is stored. Two live accounts can then never have emails a person reads as the same,
 * except for whole-script confusables: a label written entirely in Cyrillic letters that look Latin
 * (`аррӏе` against `apple`) is one script, so it passes. Catching those needs Unicode's confusables
 * data (UTS #39 skeletons), which this service does not carry.
 */
export function emailProblem(email: string): string | undefined {
  const normalised = normaliseEmail(email);
  if (INVISIBLE.test(normalised)) return 'email must not contain invisible or control characters (such as U+200B, U+202E or U+FEFF)';
  if ([...normalised].length > MAX_LENGTH) return `email must be at most ${MAX_LENGTH} characters once normalised (NFKC)`;
  if (!isEmail(normalised)) return 'email must be a valid email address';
  const at = normalised.lastIndexOf('@');
  const parts = [normalised.slice(0, at), ...normalised.slice(at + 1).split('.')];
  if (parts.some(mixesScripts)) return 'email must not mix letters of different scripts (such as Latin and Cyrillic) in its local part or in a domain label';
  return undefined;
}

/**
 * Scripts that one writing system uses together, as in UTS #39's "highly restrictive" level:
 * Japanese writes Han with Hiragana and Katakana, Korean Han with Hangul, Chinese Han with Bopomofo.
 * None of these letters look like another script's, so allowing them together lets no look-alike in.
 */
const WRITING_SYSTEMS = [new Set(['Han', 'Hiragana', 'Katakana']), new Set(['Han', 'Hangul']), new Set(['Han', 'Bopomofo'])];

function mixesScripts(part: string): boolean {
  const scripts = scriptsOf(part);
  if (scripts.size <= 1) return false;
  return !WRITING_SYSTEMS.some((system) => [...scripts].every((script) => system.has(script)));
}

/** An email that can name an account: see `emailProblem`. */
export function IsAccountEmail(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isAccountEmail',
      validator: {
        validate: (value) => typeof value === 'string' && emailProblem(value) === undefined,
        defaultMessage: (args) => (typeof args?.value === 'string' && emailProblem(args.value)) || 'email must be a valid email address',
      },
    },
    options,
  );
}
