/**
 * The auth protocol: an auth type is one module, the schema of its settings and how
 * it signs a request (only requests to the base URL's origin are signed).
 *
 * @module
 */
import type { Infer, SettingsSchema } from "../../core/schemas.ts";

/** An auth type: its spec settings and its behaviour. */
export interface AuthType<
  S extends SettingsSchema,
> {
  /** The `type:` a spec names it by. */
  readonly type: string;
  /** The schema of its settings (a strict object with `type` as a literal). */
  readonly schema: S;
  /** The secret values it sends, in every form they travel (to redact them everywhere). */
  credentials(settings: Infer<S>): string[];
  /** Signs a request: sets its headers or query parameters. */
  apply(settings: Infer<S>, url: URL, headers: Record<string, string>): void;
}
