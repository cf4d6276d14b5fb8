/** What a UrlPicker knows when it chooses the URL of a connection attempt. */
export interface UrlPick {
  /** 0 for the first connect and for the first attempt after each drop, then 1, 2, … */
  attempt: number;
  /** The URL of the connection that dropped or of the attempt that just failed; undefined before the first. */
  last: string | undefined;
  /**
   * URLs whose nodes are leaving: they told this client to resume elsewhere
   * (session.draining with resumeElsewhere, close code 4307) or refused it
   * as draining (503) in the last 30 seconds. Pick another if you can.
   */
  avoid: readonly string[];
}

/** Chooses the URL of each connection attempt (a service registry, DNS, …); `() => url` will do. */
export type UrlPicker = (pick: UrlPick) => string | Promise<string>;

/**
 * Where a client connects: one URL; the URLs of a cluster's nodes, tried in
 * turn (the first connect tries each until one answers, every reconnect
 * attempt goes to the next); or a UrlPicker called for every attempt.
 */
export type ConnectTarget = string | readonly string[] | UrlPicker;

/** The close code of a node handing its sessions to the rest of its cluster: resume on another node now. */
export const CLOSE_RESUME_ELSEWHERE = 4307;

/** How long a leaving node is passed over: long enough for a drain, short enough that a restarted node gets clients again. */
export const AVOID_MS = 30_000;

/** The URLs of a ConnectTarget: which one now, which next, which to avoid. */
export class Endpoints {
  readonly #urls: readonly string[];
  readonly #picker: UrlPicker | undefined;
  readonly #avoid = new Map<string, number>();
  #at = -1;
  #current: string | undefined;

  constructor(target: ConnectTarget) {
    if (typeof target === "function") {
      this.#urls = [];
      this.#picker = target;
      return;
    }
    this.#urls = [...new Set(typeof target === "string" ? [target] : target)];
    if (this.#urls.length === 0) {
      throw new TypeError("ParleyClient.connect: no URL");
    }
  }

  /** The URL of the current connection or attempt. */
  get current(): string | undefined {
    return this.#current;
  }

  /** Whether there is somewhere else to go: several URLs, or a picker. */
  get several(): boolean {
    return this.#picker !== undefined || this.#urls.length > 1;
  }

  /** How many attempts a first connect makes: each URL once (a picker's choice once). */
  get firstTries(): number {
    return Math.max(1, this.#urls.length);
  }

  /** The URL of attempt `attempt`: the picker's, else the next URL not avoided (the next at all if every one is). */
  async pick(attempt: number): Promise<string> {
    if (this.#picker) {
      this.#current = await this.#picker({ attempt, last: this.#current, avoid: this.avoided() });
      return this.#current;
    }
    const n = this.#urls.length;
    const now = Date.now();
    let j = (this.#at + 1) % n;
    for (let i = 1; i <= n; i++) {
      const k = (this.#at + i) % n;
      if (now >= (this.#avoid.get(this.#urls[k] as string) ?? 0)) {
        j = k;
        break;
      }
    }
    this.#at = j;
    this.#current = this.#urls[j] as string;
    return this.#current;
  }

  /** Passes over url for AVOID_MS. */
  shun(url: string | undefined): void {
    if (url !== undefined) {
      this.#avoid.set(url, Date.now() + AVOID_MS);
    }
  }

  /** The URLs avoided now, sorted. */
  avoided(): string[] {
    const now = Date.now();
    for (const [url, until] of this.#avoid) {
      if (now >= until) {
        this.#avoid.delete(url);
      }
    }
    return [...this.#avoid.keys()].sort();
  }
}
