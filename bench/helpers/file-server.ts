/**
 * The baseline of bench/stream.ts: a minimal node:http server that streams a file of
 * FILE_DIR with fs.createReadStream (GET /<name>). Runs in its own process, like the
 * API, so that server and consumer never share a thread in either measurement.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const dir = process.env.FILE_DIR;
if (!dir) {
  console.error('file-server: set FILE_DIR');
  process.exit(2);
}

const server = http.createServer((req, res) => {
  const file = path.join(dir, path.basename(decodeURIComponent((req.url ?? '/').split('?')[0]!)));
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': st.size });
    fs.createReadStream(file).pipe(res);
  });
});

server.listen(0, '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  console.log(`file server listening at http://127.0.0.1:${addr.port}`);
});

for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
