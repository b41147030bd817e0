import { readFileSync } from 'node:fs';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import ort from 'onnxruntime-node';

export interface MachineInfo {
  host: string;
  cpu_model: string;
  cores: number;
  memory_gib: number;
  os: string;
  node: string;
  onnxruntime: string;
  /** 1-minute load average when the run started: the machine may be shared. */
  load_avg_1m: number;
  /** The same when the run ended. */
  load_avg_1m_end?: number;
}

/** `lscpu`'s "Model name", falling back to /proc/cpuinfo and then os.cpus(). */
function cpuModel(): string {
  try {
    const out = execFileSync('lscpu', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const m = /^Model name:\s*(.+)$/m.exec(out);
    if (m) return m[1].trim();
  } catch {
    // lscpu is not everywhere (macOS, slim containers).
  }
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export function machineInfo(): MachineInfo {
  return {
    host: os.hostname(),
    cpu_model: cpuModel(),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    onnxruntime: ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown',
    load_avg_1m: Math.round(os.loadavg()[0] * 100) / 100,
  };
}
