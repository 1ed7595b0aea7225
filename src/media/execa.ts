/**
 * execa, loaded on first use: importing it costs about 130 ms of CPU, more than a whole
 * warm run's work, and a run where every video hits spawns nothing.
 */
export async function loadExeca(): Promise<typeof import("execa").execa> {
  return (await import("execa")).execa;
}
