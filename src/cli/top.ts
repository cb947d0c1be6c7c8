// `moat top [URL]`: a live terminal view of any broker from its `$SYS` topics (Mosquitto's too),
// with per-client figures from moat's admin API when --admin is given. This file is the thin
// terminal part: connect, feed BrokerView, redraw renderTop's lines with log-update on the
// alternate screen, read keys with node:readline; `q` or Ctrl-C restores the terminal and quits.
import { emitKeypressEvents } from 'node:readline';
import { styleText } from 'node:util';
import ansiEscapes from 'ansi-escapes';
import type { Command } from 'commander';
import { createLogUpdate } from 'log-update';
import type { MqttClient } from '../client/index.js';
import { AdminApiError } from './admin-api.js';
import { BrokerView } from './broker-view.js';
import { addMonitorFlags, buildMonitor, decimalFlag, openSys, type Monitor, type MonitorFlags } from './monitor-flags.js';
import { CliError, runCli } from './mqtt-flags.js';
import { renderTop, type Paint } from './top-render.js';

interface TopFlags extends MonitorFlags {
  interval?: string;
}

/** How many clients the admin API is asked for: more than any screen shows. */
const CLIENT_ROWS = 50;

export function registerTopCommand(program: Command): void {
  const command = program.command('top').description("live view of a broker's connections, limit, rates, drops and refusals (from $SYS; moat's admin API for clients)");
  addMonitorFlags(program, command)
    .option('--interval <seconds>', 'seconds between screen (and admin API) updates', '1')
    .action((url: string | undefined, flags: TopFlags) => runCli(flags.quiet === true, () => runTop(url, flags)));
}

/** util.styleText on a terminal; NO_COLOR (https://no-color.org) turns colours off. */
function terminalPaint(): Paint {
  if (process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '') return (_style, text) => text;
  return (style, text) => styleText(style, text);
}

async function runTop(url: string | undefined, flags: TopFlags): Promise<number> {
  const intervalSeconds = decimalFlag('--interval', flags.interval ?? '1', 0.1, 3600);
  const monitor = await buildMonitor(url, flags, 'top');
  const view = new BrokerView(monitor.target, monitor.limit);
  view.state.admin.configured = monitor.admin !== undefined;
  let lostFor: string | undefined;
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  monitor.connection.options.onDisconnect = (reason) => {
    if (reason.reconnecting === true) view.state.status = `connection lost (${reason.message}); reconnecting`;
    else {
      lostFor = reason.message;
      finish(1);
    }
  };
  monitor.connection.options.onConnect = () => delete view.state.status;
  // Connect before taking over the screen, so a refusal is printed where the user can read it.
  const client = await openSys(monitor.connection, (topic, payload, at) => view.onSys(topic, payload, at));
  if (process.stdout.isTTY !== true) {
    await endQuietly(client);
    throw new CliError('Error: moat top draws on a terminal and stdout is not one. For a script, use `moat capacity check URL` (exit codes) or `moat sub -t \'$SYS/#\' -v`.');
  }
  const screen = new TopScreen(view, terminalPaint());
  const poll = pollAdmin(monitor, view);
  let timer: NodeJS.Timeout | undefined;
  try {
    screen.open(() => finish(0));
    timer = setInterval(() => {
      void poll();
      screen.draw();
    }, intervalSeconds * 1000);
    void poll();
    screen.draw();
    return await finished;
  } finally {
    clearInterval(timer);
    screen.close();
    if (lostFor !== undefined) process.stderr.write(`moat top: the connection to ${monitor.target} ended: ${lostFor}\n`);
    await endQuietly(client);
  }
}

async function endQuietly(client: MqttClient): Promise<void> {
  try {
    await client.end();
  } catch {
    // already closed: nothing to say on the way out
  }
}

/** Asks the admin API for stats and the busiest clients; one request at a time. */
function pollAdmin(monitor: Monitor, view: BrokerView): () => Promise<void> {
  let busy = false;
  return async () => {
    const admin = monitor.admin;
    if (admin === undefined || busy) return;
    busy = true;
    try {
      const [stats, clients] = await Promise.all([admin.stats(), admin.clients(CLIENT_ROWS)]);
      view.onAdmin(stats, clients);
    } catch (error) {
      view.onAdmin(undefined, undefined, error instanceof AdminApiError ? error.message : String(error));
    } finally {
      busy = false;
    }
  };
}

/** The terminal: alternate screen, hidden cursor, raw keys; close() puts every one of them back. */
class TopScreen {
  readonly #view: BrokerView;
  readonly #paint: Paint;
  #update = createLogUpdate(process.stdout);
  #open = false;
  #onKey: ((text: string | undefined, key: { name?: string; ctrl?: boolean } | undefined) => void) | undefined;
  #onSignal: (() => void) | undefined;
  readonly #onResize = (): void => {
    // A new size invalidates log-update's line bookkeeping: start from a clear screen.
    process.stdout.write(ansiEscapes.clearViewport);
    this.#update = createLogUpdate(process.stdout);
    this.draw();
  };

  constructor(view: BrokerView, paint: Paint) {
    this.#view = view;
    this.#paint = paint;
  }

  /** Last resort: a crash still gives the terminal back (exit handlers run synchronously). */
  readonly #onExit = (): void => this.close();

  open(quit: () => void): void {
    this.#open = true;
    process.once('exit', this.#onExit);
    process.stdout.write(ansiEscapes.enterAlternativeScreen + ansiEscapes.clearViewport);
    process.stdout.on('resize', this.#onResize);
    this.#onSignal = quit;
    process.once('SIGINT', quit);
    process.once('SIGTERM', quit);
    process.once('SIGHUP', quit);
    if (process.stdin.isTTY) {
      emitKeypressEvents(process.stdin);
      process.stdin.setRawMode(true);
      this.#onKey = (text, key) => {
        if (text === 'q' || text === 'Q' || (key?.ctrl === true && (key.name === 'c' || key.name === 'd'))) quit();
      };
      process.stdin.on('keypress', this.#onKey);
      process.stdin.resume();
    }
  }

  draw(): void {
    if (!this.#open) return;
    const width = process.stdout.columns ?? 80;
    // One line fewer than the screen: log-update leaves the cursor on the line after the frame.
    const height = Math.max(1, (process.stdout.rows ?? 24) - 1);
    const lines = renderTop(this.#view.snapshot(Date.now()), { now: Date.now(), width, height, paint: this.#paint });
    this.#update(lines.join('\n'));
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    process.removeListener('exit', this.#onExit);
    process.stdout.removeListener('resize', this.#onResize);
    if (this.#onSignal !== undefined) {
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(signal, this.#onSignal);
    }
    if (this.#onKey !== undefined) {
      process.stdin.removeListener('keypress', this.#onKey);
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
    this.#update.done();
    process.stdout.write(ansiEscapes.exitAlternativeScreen);
  }
}
