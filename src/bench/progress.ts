// A progress bar on stderr while a scenario runs (cli-progress), fed every 250 ms by the caller.
import cliProgress from 'cli-progress';

export interface Progress {
  start(label: string, total: number, unit: string): void;
  update(value: number, rate: string): void;
  stop(): void;
}

export const silentProgress: Progress = { start: () => undefined, update: () => undefined, stop: () => undefined };

export function barProgress(): Progress {
  let bar: cliProgress.SingleBar | undefined;
  return {
    start(label, total, unit) {
      bar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {value}/{total} ${unit} | {rate}`, stream: process.stderr, hideCursor: true, clearOnComplete: true, fps: 4 },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { rate: '' });
    },
    update(value, rate) {
      bar?.update(Math.min(value, bar.getTotal()), { rate });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
