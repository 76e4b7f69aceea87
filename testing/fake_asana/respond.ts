/**
 * Asana's answers: JSON bodies, and error bodies with Asana's `help` (and `phrase` on 5xx).
 *
 * @module
 */

/** Asana's help text on every error. */
export const HELP =
  "For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors";

/** An error a route answers with its status and Asana's message. */
export class ApiError extends Error {
  /** Creates the error. */
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** A JSON response, as Asana sends it. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=UTF-8", ...headers },
  });
}

/** Asana's error body: `{errors: [{message, help}]}`, with a `phrase` on 5xx. */
export function errorBody(message: string, status: number): unknown {
  const error: Record<string, string> = { message, help: HELP };
  if (status >= 500) error.phrase = "6 sad squid snuggle softly";
  return { errors: [error] };
}
