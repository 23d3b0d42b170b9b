/**
 * Errors node's HTTP parser or fastify's router answer before any route runs, as
 * problem+json like every other error: a request line or headers too large (431, 414
 * for an over-long URL), a timeout while receiving (408), an unparseable request (400),
 * an over-long path parameter (414), a malformed URL (400).
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problem, sendProblem } from './problem.ts';

/** Longest request target (path + query) accepted; longer is a 414 before routing. */
export const MAX_URL_LENGTH = 8192;

function clientProblem(err: NodeJS.ErrnoException & { rawPacket?: Buffer }) {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return problem('request-timeout', 408, 'Request timeout', 'the request was not received in time (HEADERS_TIMEOUT_MS / REQUEST_TIMEOUT_MS)');
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // The request line counts against the header limit: a huge URL lands here too.
    const line = err.rawPacket?.subarray(0, Math.min(err.rawPacket.length, 16 * 1024)).toString('latin1').split('\r\n')[0] ?? '';
    if (/^[A-Z]+ \S{2048,}/.test(line) && !line.includes(' HTTP/')) {
      return problem('uri-too-long', 414, 'URI too long', `the request target is longer than the server accepts (${http.maxHeaderSize} bytes with the headers)`);
    }
    return problem('headers-too-large', 431, 'Request header fields too large', `the request line and headers exceed ${http.maxHeaderSize} bytes`);
  }
  return problem('bad-request', 400, 'Bad request', 'the request could not be parsed as HTTP/1.1');
}

/** fastify's `clientErrorHandler`: a problem+json answer, then the socket is closed. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const body = clientProblem(err);
  const json = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${body.status} ${http.STATUS_CODES[body.status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nX-Content-Type-Options: nosniff\r\n` +
        `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy();
}

/** fastify's `frameworkErrors`: router errors (bad URL, over-long parameter) as problems. */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const instance = req.url.length > 256 ? req.url.slice(0, 256) + '…' : req.url;
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void sendProblem(reply, problem('uri-too-long', 414, 'URI too long', 'a path parameter is longer than the server accepts', { instance }));
    return;
  }
  if (err.code === 'FST_ERR_BAD_URL') {
    void sendProblem(reply, problem('bad-url', 400, 'Bad request', 'the URL is not valid (malformed percent-encoding)', { instance }));
    return;
  }
  void sendProblem(reply, problem('bad-request', err.statusCode ?? 400, 'Bad request', err.message, { instance }));
}

/** onRequest: a request target longer than MAX_URL_LENGTH is a 414 before anything else runs. */
export async function rejectLongUrls(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (req.url.length > MAX_URL_LENGTH) {
    await sendProblem(
      reply,
      problem('uri-too-long', 414, 'URI too long', `the request target is ${req.url.length} characters; at most ${MAX_URL_LENGTH} are accepted`),
    );
  }
}
