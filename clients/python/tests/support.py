"""Shared by the live test modules: the service named by the environment, an epoch captured
from it, and a local server that replays that capture cut wherever a test asks.

Not a test module itself (unittest discovers ``test_*.py`` only).
"""
import collections
import io
import os
import socket
import urllib.parse
import urllib.request

from numpy.lib import format as npformat

from fakes import FakeServer

URL = os.environ.get("AUDIOFEED_URL", "").strip()
DATASET = os.environ.get("AUDIOFEED_DATASET", "").strip()
TOKEN = os.environ.get("AUDIOFEED_TOKEN") or None
LIVE = bool(URL and DATASET)
SKIP_REASON = (
    "live tests need a running service: set AUDIOFEED_URL (e.g. http://127.0.0.1:8080) and "
    "AUDIOFEED_DATASET (the id of a registered categorical dataset, e.g. corpus-mini)"
)


def importable(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


Capture = collections.namedtuple("Capture", "headers body boundaries")
Capture.__doc__ = """One real batch response: its x-audiofeed-* headers (lower case), its body, and the byte
offset where each batch starts (``boundaries[i]``; the last entry is the body's length)."""


def capture(**query):
    """GET the batches of DATASET from the live service (format=npy) and keep every byte."""
    query = dict(query, format="npy")
    url = "{}/v1/datasets/{}/batches?{}".format(URL.rstrip("/"), urllib.parse.quote(DATASET, safe=""), urllib.parse.urlencode(query))
    request = urllib.request.Request(url, headers={"Accept": "application/x-npy-stream"})
    if TOKEN:
        request.add_header("Authorization", "Bearer " + TOKEN)
    with urllib.request.urlopen(request, timeout=120) as response:
        headers = {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("x-audiofeed-")}
        body = response.read()
    columns = headers["x-audiofeed-columns"].split(",")
    f = io.BytesIO(body)
    boundaries = [0]
    for _ in range(int(headers["x-audiofeed-batches"])):
        for _ in columns:
            npformat.read_array(f, allow_pickle=False)
        boundaries.append(f.tell())
    if boundaries[-1] != len(body):
        raise AssertionError("captured body has {} bytes after its batches".format(len(body) - boundaries[-1]))
    return Capture(headers, body, boundaries)


class ReplayServer:
    """Serves ``capture`` for any batches URL, from ``from_batch`` on, as the service would.

    ``cut(from_batch)`` returns ``None`` for a whole response or ``(offset, framing)`` to
    stop after ``offset`` bytes of this response's body: framing ``"chunked"`` drops the
    connection inside a chunked body (HTTP sees the cut), ``"close"`` sends a body
    delimited by the connection's close, so the bytes simply stop (HTTP cannot see it), and
    ``"ended"`` ends the chunked body properly after ``offset`` bytes (a server that says it
    is done too early). ``announce`` overrides X-Audiofeed-Batches (None: no header).
    """

    def __init__(self, capture, cut=None, announce="as captured"):
        self.capture = capture
        self.cut = cut or (lambda from_batch: None)
        self.announce = announce
        self.requests = []
        self._server = FakeServer(lambda request, h: self._serve(h))
        self.base = self._server.base

    def __enter__(self):
        self._server.__enter__()
        return self

    def __exit__(self, *exc):
        self._server.__exit__(*exc)

    def _serve(self, h):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h.path).query))
        start = int(query.get("from_batch", "0"))
        self.requests.append(start)
        c = self.capture
        body = c.body[c.boundaries[start] :]
        cut = self.cut(start)
        h.send_response(200)
        h.send_header("Content-Type", "application/x-npy-stream")
        for name, value in c.headers.items():
            if name == "x-audiofeed-batches":
                if self.announce is None:
                    continue
                if self.announce == "as captured":
                    value = str(len(c.boundaries) - 1 - start)
                else:
                    value = str(self.announce)
            if name == "x-audiofeed-from-batch":
                value = str(start)
            h.send_header(name, value)
        framing = "ended" if cut is None else cut[1]
        if framing not in ("chunked", "close", "ended"):
            raise ValueError("framing " + framing)
        if framing == "close":
            h.send_header("Connection", "close")
        else:
            h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        data = body if cut is None else body[: cut[0]]
        try:
            if framing == "close":
                h.wfile.write(data)
            else:
                for i in range(0, len(data), 65536):
                    piece = data[i : i + 65536]
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                if framing == "ended":
                    h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # A reader that has what it wanted closes early (a DataLoader worker at the end of its slice).
            h.close_connection = True
            return
        if cut is not None and framing != "ended":
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
