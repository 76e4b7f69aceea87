/**
 * restpipe's version, and the format of what it stores in a dataset (the state and the
 * system tables). A dataset written in a newer format than this restpipe's is refused:
 * what this version would write could lose what the newer one keeps.
 *
 * @module
 */
import config from "../../deno.json" with { type: "json" };

/** restpipe's version (`deno.json`). */
export const VERSION: string = config.version;

/**
 * The format of the stored state and system tables: raised when a change would make an
 * older restpipe misread what a newer one stored. Datasets without one are format 0.
 */
export const STATE_FORMAT = 1;
