/**
 * Keras `validation_freq`: an integer N runs validation after every N-th epoch; a list
 * (here `epochs`) names the 1-based epochs after which it runs.
 */
export function validationSchedule(epochs: number, freq: number | number[]): { epoch: number; validate: boolean }[] {
  const list = Array.isArray(freq) ? new Set(freq) : null;
  return Array.from({ length: epochs }, (_, i) => ({
    epoch: i,
    validate: list ? list.has(i + 1) : (i + 1) % (freq as number) === 0,
  }));
}
