import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

/**
 * Reads a request body straight from Node's IncomingMessage (what @hono/node-server passes as
 * `c.env.incoming`), at most `limit` bytes. Much cheaper than the web Request body (a
 * ReadableStream over the same socket), and this is on every POST of the flow. Returns
 * undefined when there is no IncomingMessage (app.request in tests): the caller falls back.
 */
export function readIncomingBody(c: Context, limit: number, tooLarge: () => Error): Promise<Uint8Array> | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming || typeof incoming.on !== 'function' || incoming.readableDidRead) return undefined;
  return new Promise<Uint8Array>((resolve, reject) => new BodyReader(incoming, limit, tooLarge, resolve, reject).start());
}

/**
 * One body being read. A class with bound methods rather than four closures per request: the
 * closures each cost a property definition under tsx's keepNames (docs/performance.md).
 */
class BodyReader {
  private readonly chunks: Buffer[] = [];
  private total = 0;

  constructor(
    private readonly incoming: IncomingMessage,
    private readonly limit: number,
    private readonly tooLarge: () => Error,
    private readonly resolve: (body: Uint8Array) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    this.onData = this.onData.bind(this);
    this.onEnd = this.onEnd.bind(this);
    this.onError = this.onError.bind(this);
    this.onClose = this.onClose.bind(this);
  }

  start(): void {
    this.incoming.on('data', this.onData);
    this.incoming.on('end', this.onEnd);
    this.incoming.on('error', this.onError);
    this.incoming.on('close', this.onClose);
  }

  private cleanup(): void {
    this.incoming.off('data', this.onData);
    this.incoming.off('end', this.onEnd);
    this.incoming.off('error', this.onError);
    this.incoming.off('close', this.onClose);
  }

  private onData(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.total > this.limit) {
      this.cleanup();
      this.incoming.resume(); // discard the rest; the 413 goes out and the server closes the socket
      this.reject(this.tooLarge());
      return;
    }
    this.chunks.push(chunk);
  }

  private onEnd(): void {
    this.cleanup();
    this.resolve(this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.total));
  }

  private onError(e: Error): void {
    this.cleanup();
    this.reject(e);
  }

  private onClose(): void {
    if (this.incoming.complete) return;
    this.cleanup();
    this.reject(new Error('request aborted'));
  }
}
