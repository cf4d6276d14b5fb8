import type { ErrorData } from "./gen/protocol.js";

/**
 * An error answer from the server: a JSON-RPC error object. Application
 * errors (SIP/HTTP-like codes) arrive as the generated subclasses, e.g.
 * RoomNotFoundError, so `instanceof` tells them apart even where codes are
 * shared; JSON-RPC standard errors (-32700…-32603) stay plain ParleyErrors.
 */
export class ParleyError extends Error {
  /** The JSON-RPC error code: 404, 486, -32602, … */
  readonly code: number;
  /** The error's data member; every Parley application error has one with a reason. */
  readonly data: ErrorData | undefined;
  /** For -32602: the dotted path of the offending param, e.g. candidate.sdpMid. */
  readonly field: string | undefined;
  /** For 429 and 503: when to try again. */
  readonly retryAfterMs: number | undefined;

  constructor(code: number, message: string, data?: ErrorData) {
    super(message);
    // new.target, not a literal, so every generated subclass names itself.
    this.name = new.target.name;
    this.code = code;
    this.data = data;
    this.field = data?.field;
    this.retryAfterMs = data?.retryAfterMs;
  }

  /** The stable machine-readable token (data.reason), e.g. "room_full". */
  get reason(): string | undefined {
    return this.data?.reason;
  }
}

/**
 * The connection ended before an answer came: a request pending when the
 * socket dropped, a call made while reconnecting or after close(), or a
 * connect attempt that failed. Raised by the client, never sent by the
 * server, hence code 0.
 */
export class DisconnectedError extends ParleyError {
  /** The WebSocket close code, when the socket closed with one (4001 unauthenticated, 4503 draining, …). */
  readonly closeCode: number | undefined;
  /**
   * True when the request had been sent before the socket dropped: the
   * server may have carried it out, so calling again may do it twice (a
   * message.send delivered twice). False: it was never sent.
   */
  readonly inFlight: boolean;

  constructor(message: string, closeCode?: number, inFlight = false) {
    super(0, message, { reason: "disconnected" });
    this.closeCode = closeCode;
    this.inFlight = inFlight;
  }
}

/** No answer within the request's timeout; the request is forgotten (a late answer is dropped). Code 0: raised by the client. */
export class RequestTimeoutError extends ParleyError {
  constructor(method: string, timeoutMs: number) {
    super(0, `${method}: no answer within ${timeoutMs} ms`, { reason: "timeout" });
  }
}
