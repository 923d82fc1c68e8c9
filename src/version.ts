/** tslink's version: printed by --version, and part of every incremental state's identity. */
export const VERSION = '0.1.0';
