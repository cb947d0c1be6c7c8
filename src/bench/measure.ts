// What the generator and the broker cost: the generator's own CPU (process.cpuUsage() covers every
// thread of this process) and, given the broker's PID, its CPU and RSS from /proc (Linux only;
// elsewhere those fields stay undefined rather than wrong).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** USER_HZ: /proc/PID/stat counts CPU time in clock ticks of 1/100 s on Linux. */
const CLOCK_TICKS = 100;

export interface Mark {
  readonly at: number;
  readonly cpu: NodeJS.CpuUsage;
  readonly brokerTicks: number | undefined;
}

export interface CpuReport {
  /** Generator CPU as % of one core (can exceed 100 with several threads). */
  generatorCorePercent: number;
  /** Generator CPU as % of the whole machine. */
  generatorMachinePercent: number;
  brokerCorePercent: number | undefined;
  cores: number;
}

export function brokerTicks(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that closes the command name: utime is the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Resident set size in KiB (VmRSS), or undefined when unreadable. */
export function rssKb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] !== undefined ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function mark(pid: number | undefined): Mark {
  return { at: performance.now(), cpu: process.cpuUsage(), brokerTicks: brokerTicks(pid) };
}

export function cpuBetween(a: Mark, b: Mark): CpuReport {
  const seconds = Math.max(1e-6, (b.at - a.at) / 1000);
  const usedUs = b.cpu.user - a.cpu.user + (b.cpu.system - a.cpu.system);
  const cores = availableParallelism();
  const generatorCorePercent = (usedUs / 1e6 / seconds) * 100;
  const brokerCorePercent =
    a.brokerTicks !== undefined && b.brokerTicks !== undefined ? ((b.brokerTicks - a.brokerTicks) / CLOCK_TICKS / seconds) * 100 : undefined;
  return { generatorCorePercent, generatorMachinePercent: generatorCorePercent / cores, brokerCorePercent, cores };
}

/** Tracks the broker's peak RSS between start() and stop() (sampled every 250 ms). */
export class RssWatch {
  readonly #pid: number | undefined;
  #peak = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(pid: number | undefined) {
    this.#pid = pid;
  }

  start(): void {
    this.sample();
    this.#timer = setInterval(() => this.sample(), 250);
  }

  sample(): number | undefined {
    const kb = rssKb(this.#pid);
    if (kb !== undefined && kb > this.#peak) this.#peak = kb;
    return kb;
  }

  stop(): number | undefined {
    clearInterval(this.#timer);
    this.sample();
    return this.#pid === undefined || this.#peak === 0 ? undefined : this.#peak;
  }
}

/** `ulimit -n` of this process (soft limit), from /proc/self/limits; undefined if unknown. */
export function openFileLimit(): number | undefined {
  try {
    const match = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (match?.[1] === undefined) return undefined;
    return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
  } catch {
    return undefined;
  }
}
