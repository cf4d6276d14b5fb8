/** The close code of a node handing its sessions to the rest of its cluster: resume on another node now. */
export const CLOSE_RESUME_ELSEWHERE = 4307;
/** How long a leaving node is passed over: long enough for a drain, short enough that a restarted node gets clients again. */
export const AVOID_MS = 30_000;
/** The URLs of a ConnectTarget: which one now, which next, which to avoid. */
export class Endpoints {
    #urls;
    #picker;
    #avoid = new Map();
    #at = -1;
    #current;
    constructor(target) {
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
    get current() {
        return this.#current;
    }
    /** Whether there is somewhere else to go: several URLs, or a picker. */
    get several() {
        return this.#picker !== undefined || this.#urls.length > 1;
    }
    /** How many attempts a first connect makes: each URL once (a picker's choice once). */
    get firstTries() {
        return Math.max(1, this.#urls.length);
    }
    /** The URL of attempt `attempt`: the picker's, else the next URL not avoided (the next at all if every one is). */
    async pick(attempt) {
        if (this.#picker) {
            this.#current = await this.#picker({ attempt, last: this.#current, avoid: this.avoided() });
            return this.#current;
        }
        const n = this.#urls.length;
        const now = Date.now();
        let j = (this.#at + 1) % n;
        for (let i = 1; i <= n; i++) {
            const k = (this.#at + i) % n;
            if (now >= (this.#avoid.get(this.#urls[k]) ?? 0)) {
                j = k;
                break;
            }
        }
        this.#at = j;
        this.#current = this.#urls[j];
        return this.#current;
    }
    /** Passes over url for AVOID_MS. */
    shun(url) {
        if (url !== undefined) {
            this.#avoid.set(url, Date.now() + AVOID_MS);
        }
    }
    /** The URLs avoided now, sorted. */
    avoided() {
        const now = Date.now();
        for (const [url, until] of this.#avoid) {
            if (now >= until) {
                this.#avoid.delete(url);
            }
        }
        return [...this.#avoid.keys()].sort();
    }
}
