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
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        cleanup();
        incoming.resume(); // discard the rest; the 413 goes out and the server closes the socket
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onClose = () => {
      if (incoming.complete) return;
      cleanup();
      reject(new Error('request aborted'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}
