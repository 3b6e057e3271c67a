/**
 * `h2` and `h2-uds`: HTTP/2 without TLS (prior knowledge, as sidecar proxies speak it on
 * localhost), `node:http2` on both sides, over TCP on 127.0.0.1 or a Unix socket in the shared
 * volume. The exchanges are `http1`'s, as streams on one session: a POST /log per message,
 * answered with the body echoed (latency) or an empty 204 before the next (throughput).
 *
 * HTTP/2's flow control would otherwise pace large messages: the default stream and connection
 * windows are 64 KiB, so a 1 MiB body would wait for 16 window updates, and node:http2 refuses
 * new streams past 10 MiB of session memory. Both sides raise the stream window (SETTINGS) and
 * the connection window (WINDOW_UPDATE) to at least twice the message, and the session memory to
 * four messages; the case records the windows each session reports, not the ones asked for.
 */
import {
  connect,
  constants,
  createServer,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type Http2Session,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { MODES } from '../contract/modes.js';
import type { MessageBuffer } from '../measure/message.js';
import {
  Bodies,
  SocketTally,
  bodyOf,
  hostedServer,
  listenOn,
  probeListener,
  protocolChannel,
  protocolSocketPath,
  readBody,
  LaneCloser,
  type ExchangeCounts,
  type Transport,
} from './http-exchange.js';
import {
  PeerError,
  type Channel,
  type ChannelContext,
  type EventLoopEndpoint,
  type HostedLanes,
  type JoinParams,
} from './channel.js';

const MiB = 1024 * 1024;
/** HTTP/2's largest window (RFC 9113, 6.9.1). */
const MAX_WINDOW_BYTES = 2 ** 31 - 1;

/**
 * The flow-control and memory settings for messages of `sizeBytes` on `lanes` streams at once,
 * the same on both sides: each stream's window holds two messages, the connection's two per
 * lane, and the session's memory four per lane (node:http2 refuses streams past it).
 */
function sessionSizing(
  sizeBytes: number,
  lanes: number,
): { streamWindowBytes: number; connectionWindowBytes: number; maxSessionMemoryMiB: number } {
  const window = (messages: number) => Math.min(MAX_WINDOW_BYTES, Math.max(MiB, messages * sizeBytes));
  return {
    streamWindowBytes: window(2),
    connectionWindowBytes: window(2 * lanes),
    maxSessionMemoryMiB: Math.max(10, Math.ceil((4 * lanes * sizeBytes) / MiB)),
  };
}

/** Raises the session's connection window (the stream window travels in SETTINGS). */
function raiseConnectionWindow(session: Http2Session, windowBytes: number): void {
  session.setLocalWindowSize(windowBytes);
}

/**
 * The windows and frame size a session reports, with its memory bound: read while the session is
 * open (at the first exchange, and again at `details` if it still is), since by then the peer may
 * have closed it.
 */
class SessionFacts {
  private facts: Record<string, number>;

  constructor(maxSessionMemoryMiB: number) {
    this.facts = { maxSessionMemoryMiB };
  }

  sample(session: Http2Session | undefined): void {
    if (!session || session.destroyed) return;
    this.facts = {
      streamWindowBytes: session.localSettings.initialWindowSize ?? 0,
      connectionWindowBytes: session.state.effectiveLocalWindowSize ?? 0,
      peerStreamWindowBytes: session.remoteSettings.initialWindowSize ?? 0,
      maxFrameSizeBytes: session.remoteSettings.maxFrameSize ?? 0,
      maxSessionMemoryMiB: this.facts.maxSessionMemoryMiB!,
    };
  }

  read(session: Http2Session | undefined): Record<string, number> {
    this.sample(session);
    return this.facts;
  }
}

/** The responder's side: streams in, answers out. */
class ServerEndpoint implements EventLoopEndpoint {
  readonly blocking = false;
  private readonly bodies: Bodies;
  private readonly facts: SessionFacts;
  /** Streams owed an echo, oldest first. */
  private readonly owed: ServerHttp2Stream[] = [];
  session: Http2Session | undefined;

  constructor(
    private readonly echoes: boolean,
    private readonly transport: Transport,
    private readonly tally: SocketTally,
    private readonly counts: ExchangeCounts,
    maxSessionMemoryMiB: number,
    peerTimeoutMs: number,
  ) {
    this.facts = new SessionFacts(maxSessionMemoryMiB);
    this.bodies = new Bodies(peerTimeoutMs, 'the initiator', () => {
      if (transport === 'tcp') tally.sampleNoDelay();
      this.facts.sample(this.session);
    });
  }

  /** A stream arrived (the server's `stream` event). */
  handle(stream: ServerHttp2Stream): void {
    const failed = (err: Error) => this.bodies.fail(new PeerError(`HTTP/2 stream: ${err.message}`));
    stream.on('error', failed);
    readBody(
      stream,
      (body) => {
        this.counts.received++;
        if (this.echoes) this.owed.push(stream);
        else {
          stream.respond({ ':status': 204 }, { endStream: true });
          this.counts.answered++;
        }
        this.bodies.arrived(body);
      },
      failed,
    );
  }

  connectionLost(err: Error): void {
    this.bodies.fail(err);
  }

  send(message: MessageBuffer): undefined {
    const stream = this.owed.shift();
    if (!stream) throw new Error('h2: an answer with no stream to answer');
    stream.respond({ ':status': 200, 'content-length': message.bytes.length });
    stream.end(bodyOf(message));
    this.counts.answered++;
    return undefined;
  }

  receive(into: MessageBuffer): Promise<number> {
    return this.bodies.next(into);
  }

  details(): Record<string, number | string | boolean> {
    return {
      ...this.tally.details('HTTP/2', this.transport, {
        requests: this.counts.received,
        answers: this.counts.answered,
      }),
      ...this.facts.read(this.session),
    };
  }

  /** Resets the streams left unanswered (the end message's, in echo mode), so the client's close ends. */
  close(): void {
    for (const stream of this.owed.splice(0)) if (!stream.closed) stream.close(constants.NGHTTP2_NO_ERROR);
    this.bodies.fail(new PeerError('the HTTP/2 server closed'));
  }
}

/** The request header that names a request's lane when a session carries several. */
const LANE_HEADER = 'x-podbench-lane';

/** The initiator's side: one stream per message on one session (which other lanes may share). */
class ClientEndpoint implements EventLoopEndpoint {
  readonly blocking = false;
  private readonly bodies: Bodies;
  private readonly facts: SessionFacts;
  private readonly headers: OutgoingHttpHeaders;
  private last: ClientHttp2Stream | undefined;
  private closed = false;
  private readonly onStreamError = (err: Error) =>
    this.bodies.fail(err instanceof PeerError ? err : new PeerError(`HTTP/2: ${err.message}`));

  constructor(
    private readonly session: ClientHttp2Session,
    private readonly echoes: boolean,
    timeoutMs: number,
    sizeBytes: number,
    private readonly transport: Transport,
    private readonly tally: SocketTally,
    maxSessionMemoryMiB: number,
    lane: number | undefined,
    private readonly closer: LaneCloser,
  ) {
    this.headers = {
      ':method': 'POST',
      ':path': '/log',
      'content-type': 'application/octet-stream',
      'content-length': sizeBytes,
      // Only a session with several lanes names them: one lane's requests stay as a client's are.
      ...(lane === undefined ? {} : { [LANE_HEADER]: lane }),
    };
    this.facts = new SessionFacts(maxSessionMemoryMiB);
    this.bodies = new Bodies(timeoutMs, 'the responder', () => {
      if (transport === 'tcp') tally.sampleNoDelay();
      this.facts.sample(session);
    });
    session.on('error', (err) => this.onStreamError(err));
    session.on('close', () => this.bodies.fail(new PeerError('the HTTP/2 session closed')));
  }

  send(message: MessageBuffer): Promise<void> | undefined {
    if (this.bodies.failure) throw this.bodies.failure;
    const stream = this.session.request(this.headers);
    stream.on('error', this.onStreamError);
    this.last = stream;
    let answered: Promise<void> | undefined;
    if (this.echoes) readBody(stream, (body) => this.bodies.arrived(body), this.onStreamError);
    // The answer is an empty 204; the next request goes out after it, as over HTTP/1.1.
    else answered = new Promise((resolve) => readBody(stream, () => resolve(), this.onStreamError));
    stream.end(bodyOf(message));
    return answered && this.bodies.guard(answered);
  }

  receive(into: MessageBuffer): Promise<number> {
    return this.bodies.next(into);
  }

  details(): Record<string, number | string | boolean> {
    return {
      ...this.tally.details('HTTP/2', this.transport),
      ...this.facts.read(this.session),
    };
  }

  /** Closes the lane; the session closes once every lane has and their last streams (the end messages) are. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const last = this.last;
    this.closer.laneClosed(last && !last.closed ? new Promise((resolve) => last.once('close', resolve)) : undefined);
    this.bodies.close(new PeerError('the HTTP/2 client closed'));
  }
}

async function hostH2(transport: Transport, ctx: ChannelContext, lanes: number): Promise<HostedLanes> {
  const echoes = MODES[ctx.spec.mode].responderEchoes;
  const { streamWindowBytes, connectionWindowBytes, maxSessionMemoryMiB } = sessionSizing(ctx.spec.sizeBytes, lanes);
  const path = transport === 'uds' ? protocolSocketPath(ctx, 'h2') : undefined;
  const tally = new SocketTally('server', (listener) => listener === server);
  const counts: ExchangeCounts = { received: 0, answered: 0 };
  const endpoints = Array.from(
    { length: lanes },
    () => new ServerEndpoint(echoes, transport, tally, counts, maxSessionMemoryMiB, ctx.peerTimeoutMs),
  );
  const server = createServer({
    settings: { initialWindowSize: streamWindowBytes },
    maxSessionMemory: maxSessionMemoryMiB,
  });
  const sessions = new Set<Http2Session>();
  const connection = new Promise<void>((resolve) => {
    server.on('connection', (socket: Socket) => socket.setNoDelay(true));
    server.on('session', (session) => {
      sessions.add(session);
      raiseConnectionWindow(session, connectionWindowBytes);
      session.setTimeout(ctx.peerTimeoutMs, () =>
        session.destroy(new PeerError(`the initiator sent nothing within ${ctx.peerTimeoutMs} ms`)),
      );
      // A session that ends before its first stream is a client's probe, not the case's session.
      const lost = (err: Error) => endpoints.forEach((e) => e.session === session && e.connectionLost(err));
      session.on('error', lost);
      session.on('close', () => lost(new PeerError('the initiator closed the HTTP/2 session')));
      resolve();
    });
  });
  server.on('stream', (stream, headers) => {
    const endpoint = endpoints[Number(headers[LANE_HEADER] ?? 0)];
    if (!endpoint) {
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    // Every lane is carried by the session from its first stream on, so that the session's loss
    // fails a lane that has not had a stream yet too.
    for (const e of endpoints) e.session ??= stream.session;
    endpoint.session = stream.session;
    endpoint.handle(stream);
  });
  const params = await listenOn(server, path).catch((err: unknown) => {
    tally.close();
    throw err;
  });
  const closeServer = () => {
    for (const session of sessions) session.destroy();
    server.close();
  };
  return hostedServer({ params, connection, endpoints, tally, path, closeServer }, ctx.peerTimeoutMs);
}

async function joinH2(
  transport: Transport,
  ctx: ChannelContext,
  params: JoinParams,
  lanes: number,
): Promise<ClientEndpoint[]> {
  const echoes = MODES[ctx.spec.mode].responderEchoes;
  const { streamWindowBytes, connectionWindowBytes, maxSessionMemoryMiB } = sessionSizing(ctx.spec.sizeBytes, lanes);
  const tally = new SocketTally('client');
  const session = connect(transport === 'uds' ? 'http://localhost' : `http://127.0.0.1:${Number(params.port)}`, {
    settings: { initialWindowSize: streamWindowBytes },
    maxSessionMemory: maxSessionMemoryMiB,
    createConnection: () =>
      transport === 'uds'
        ? netConnect({ path: String(params.path) })
        : netConnect({ host: '127.0.0.1', port: Number(params.port), noDelay: true }),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new PeerError(`no HTTP/2 session within ${ctx.peerTimeoutMs} ms`)),
        ctx.peerTimeoutMs,
      );
      session.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      session.once('error', (err) => {
        clearTimeout(timer);
        reject(new PeerError(`HTTP/2: ${err.message}`));
      });
    });
  } catch (err) {
    session.destroy();
    tally.close();
    throw err;
  }
  raiseConnectionWindow(session, connectionWindowBytes);
  session.setMaxListeners(0); // two per lane
  const timeoutMs = ctx.peerTimeoutMs;
  session.setTimeout(timeoutMs, () =>
    session.destroy(new PeerError(`the responder did not answer within ${timeoutMs} ms`)),
  );
  const closer = new LaneCloser(lanes, timeoutMs, () => {
    session.destroy();
    tally.close();
  });
  return Array.from(
    { length: lanes },
    (_, lane) =>
      new ClientEndpoint(
        session,
        echoes,
        timeoutMs,
        ctx.spec.sizeBytes,
        transport,
        tally,
        maxSessionMemoryMiB,
        lanes > 1 ? lane : undefined,
        closer,
      ),
  );
}

const http2Channel = (id: 'h2' | 'h2-uds', transport: Transport): Channel =>
  protocolChannel(id, transport, 'h2', {
    probe: (scratchDir) => probeListener(createServer(), transport, scratchDir, 'node:http2'),
    lanes: {
      hostLanes: (ctx, lanes) => hostH2(transport, ctx, lanes),
      joinLanes: (ctx, params, lanes) => joinH2(transport, ctx, params, lanes),
    },
  });

/** HTTP/2 (prior knowledge) over TCP on 127.0.0.1. */
export const h2Channel = http2Channel('h2', 'tcp');
/** HTTP/2 (prior knowledge) over a Unix socket in the shared volume. */
export const h2UdsChannel = http2Channel('h2-uds', 'uds');
