/** Placeholder until the runtime helper lands (issue: dev server and runtime). */
export {};
