/**
 * Placeholder while this feature is built.
 *
 * @module
 */
export {};
