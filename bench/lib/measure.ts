import { readFileSync } from 'node:fs';

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summary(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return { count: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN };
}

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds and memory of a process, read from /proc (Linux). */
export function processStats(pid: number): { cpuSeconds: number; rssMb: number; peakRssMb: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { cpuSeconds, rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
  } catch {
    return { cpuSeconds: NaN, rssMb: NaN, peakRssMb: NaN };
  }
}

/** Samples a process's memory while `fn` runs; returns the peak RSS seen and CPU seconds used. */
export async function whileSampling<T>(pids: Record<string, number>, fn: () => Promise<T>) {
  const start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processStats(pid)]));
  const peak: Record<string, number> = Object.fromEntries(Object.keys(pids).map((k) => [k, 0]));
  const timer = setInterval(() => {
    for (const [k, pid] of Object.entries(pids)) peak[k] = Math.max(peak[k]!, processStats(pid).rssMb);
  }, 200);
  const t0 = Date.now();
  try {
    const result = await fn();
    const seconds = (Date.now() - t0) / 1000;
    const usage = Object.fromEntries(
      Object.entries(pids).map(([k, pid]) => {
        const end = processStats(pid);
        return [
          k,
          {
            cpuPercent: Math.round(((end.cpuSeconds - start[k]!.cpuSeconds) / seconds) * 100),
            cpuSeconds: Math.round((end.cpuSeconds - start[k]!.cpuSeconds) * 100) / 100,
            peakRssMb: Math.round(Math.max(peak[k]!, end.rssMb)),
          },
        ];
      }),
    );
    return { result, seconds, usage };
  } finally {
    clearInterval(timer);
  }
}

/**
 * Sends `rate` requests a second for `seconds`, open loop (the schedule does not wait for answers),
 * and returns every answer's status and the time it was sent.
 */
export async function openLoop(rate: number, seconds: number, send: (i: number) => Promise<number>) {
  const total = Math.round(rate * seconds);
  const sentAt: number[] = new Array(total);
  const answeredAt: number[] = new Array(total);
  const statuses: number[] = new Array(total);
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sentAt[i] = Date.now();
    inFlight.push(
      send(i).then(
        (s) => void ((statuses[i] = s), (answeredAt[i] = Date.now())),
        () => void ((statuses[i] = 0), (answeredAt[i] = Date.now())),
      ),
    );
  }
  await Promise.all(inFlight);
  return { sentAt, answeredAt, statuses, elapsedSeconds: (performance.now() - started) / 1000 };
}

/** One second of an open-loop run, by when its requests were sent. */
export interface Second {
  second: number;
  sent: number;
  refused: number;
  /** Request sent → answered (the receiver's acknowledgement). */
  ackP99Ms: number;
  /** Request sent → at the callback, for those accepted and delivered. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Per send-second figures: where in a run the tail came from. */
export function timeline(
  run: { sentAt: number[]; answeredAt: number[]; statuses: number[] },
  deliveredAt: (i: number) => number | undefined,
): Second[] {
  const t0 = run.sentAt[0] ?? 0;
  const buckets = new Map<number, number[]>();
  run.sentAt.forEach((t, i) => {
    const s = Math.floor((t - t0) / 1000);
    const b = buckets.get(s) ?? [];
    b.push(i);
    buckets.set(s, b);
  });
  return [...buckets].map(([second, ids]) => {
    const latencies = ids.flatMap((i) => {
      const at = run.statuses[i] === 200 ? deliveredAt(i) : undefined;
      return at === undefined ? [] : [at - run.sentAt[i]!];
    });
    const l = summary(latencies);
    return {
      second,
      sent: ids.length,
      refused: ids.filter((i) => run.statuses[i] !== 200).length,
      ackP99Ms: summary(ids.map((i) => run.answeredAt[i]! - run.sentAt[i]!)).p99,
      p50Ms: l.p50,
      p99Ms: l.p99,
      maxMs: l.max,
    };
  });
}
