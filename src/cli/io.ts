/**
 * What the command line prints, always with the loaded spec's secrets (and a
 * destination's password) removed.
 *
 * @module
 */
import { Redactor } from "../core/secrets.ts";

/** Removes the loaded spec's secrets from everything the command prints. */
let redactor = new Redactor([]);

/** Prints a line to standard output, secrets removed. */
export function out(text: string): void {
  console.log(redactor.redact(text));
}

/** Prints a line to standard error, secrets removed. */
export function err(text: string): void {
  console.error(redactor.redact(text));
}

/** A text with every known secret removed. */
export function redact(text: string): string {
  return redactor.redact(text);
}

/** From now on, these secrets (a loaded spec's) are the ones removed. */
export function useSecrets(secrets: readonly string[]): void {
  redactor = new Redactor(secrets);
}

/** From now on, these secrets are removed too (a destination's password). */
export function addSecrets(secrets: readonly string[]): void {
  redactor = redactor.with(secrets);
}
