/**
 * Awaitable reads of whole protocol messages from a socket during the login. Once the login is
 * done, release() stops reading and hands back the bytes that came after the last message, and the
 * socket is piped as it is.
 */
import type { Duplex } from 'node:stream';
import { MessageFramer, type Message } from './protocol.ts';

export class SocketClosedError extends Error {
  override name = 'SocketClosedError';
}

export class SocketReader {
  private readonly framer = new MessageFramer();
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.framer.push(chunk);
    this.wake();
  };
  private readonly onEnd = () => this.fail(new SocketClosedError(`${this.what} closed the connection`));
  private readonly onError = (error: Error) => this.fail(error);

  constructor(
    private readonly socket: Duplex,
    private readonly what: string,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  startupPacket(): Promise<Buffer> {
    return this.next(() => this.framer.nextStartupPacket());
  }

  message(): Promise<Message> {
    return this.next(() => this.framer.nextMessage());
  }

  /** True when bytes beyond the last message taken have arrived. */
  buffered(): boolean {
    return this.framer.buffered > 0;
  }

  /** Stops reading (the socket is paused) and returns the bytes read beyond the last message. */
  release(): Buffer {
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    return this.framer.takeRest();
  }

  private async next<T>(take: () => T | undefined): Promise<T> {
    for (;;) {
      const item = take();
      if (item !== undefined) return item;
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
