"""HTTP client for audiofeed, reading the ``application/x-npy-stream`` batch format.

Each batch arrives as consecutive ``.npy`` arrays in the order of the
``X-Audiofeed-Columns`` response header; they are read one at a time straight from the
socket with ``numpy.lib.format.read_array``, so memory holds one batch, never an epoch.
"""
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from numpy.lib import format as npformat

# Statuses worth retrying: a gateway or replica was momentarily unavailable.
_TRANSIENT = frozenset({502, 503, 504})
# What a dropped or stalled connection looks like from urllib/http.client.
# (URLError, ConnectionResetError and socket timeouts are all OSError.)
_NETWORK_ERRORS = (OSError, http.client.HTTPException)


class AudiofeedError(Exception):
    """An RFC 9457 problem returned by the service."""

    def __init__(self, status, type, detail, title=None, body=None):
        super().__init__("{} {}: {}".format(status, title or type, detail))
        self.status = status
        self.type = type
        self.detail = detail
        self.title = title
        self.body = body if body is not None else {}


class IncompleteStreamError(Exception):
    """The stream ended before all announced batches arrived."""

    def __init__(self, received, expected, cause=None):
        super().__init__(
            "batch stream interrupted after {} of {} batches{}".format(
                received, expected, ": {!r}".format(cause) if cause is not None else ""
            )
        )
        self.received = received
        self.expected = expected
        self.cause = cause


class _Body:
    """read()-only view of a response that can tell a clean end from a cut.

    numpy treats it as a non-file (no fileno/seek), so it reads with ``read(n)``.
    """

    def __init__(self, response):
        self._response = response
        self._pending = b""

    def read(self, n=-1):
        if self._pending:
            head, self._pending = self._pending, b""
            if n is None or n < 0:
                return head + self._response.read()
            return head + self._response.read(n - len(head)) if n > len(head) else head
        return self._response.read(n)

    def at_end(self):
        if self._pending:
            return False
        self._pending = self._response.read(1)
        return not self._pending


def _query_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Client:
    """``Client("http://localhost:3000", token=None)``."""

    def __init__(self, base_url, token=None, timeout=60.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    # -- plumbing -----------------------------------------------------------------

    def _open(self, path, accept):
        headers = {"Accept": accept}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        request = urllib.request.Request(self.base_url + path, headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as err:
            raise _problem(err) from None

    def get_json(self, path):
        with self._open(path, "application/json") as response:
            return json.loads(response.read().decode("utf-8"))

    # -- resources ----------------------------------------------------------------

    def dataset(self, id):
        """GET /v1/datasets/{id}: audio_classes, audio_input_shape, class_mode, ..."""
        return self.get_json("/v1/datasets/" + urllib.parse.quote(id, safe=""))

    def batches(self, dataset_id, subset="training", epoch=0, batch_size=32, from_batch=0, **params):
        """One request: yields ``(x, y)``, ``(x, y, sample_weight)`` or ``(x,)`` per batch.

        Extra keyword arguments become query parameters (shuffle, steps_per_epoch,
        class_mode, dtype, class_weight, sample_weight_id). Raises AudiofeedError for a
        problem response and IncompleteStreamError if the connection drops.
        """
        for _, arrays in self._stream(dataset_id, subset, epoch, batch_size, from_batch, params):
            yield arrays

    def epochs(
        self,
        dataset_id,
        subset="training",
        start_epoch=0,
        num_epochs=1,
        batch_size=32,
        from_batch=0,
        retries=3,
        retry_delay=0.5,
        **params
    ):
        """Batches of epochs ``start_epoch, start_epoch+1, ...`` (forever if num_epochs is None).

        A dropped connection is resumed with ``from_batch`` = the next batch not yet
        received; ``retries`` bounds consecutive reconnections without progress.
        """
        epoch = start_epoch
        while num_epochs is None or epoch < start_epoch + num_epochs:
            next_batch = from_batch if epoch == start_epoch else 0
            first = next_batch
            expected = None
            failures = 0
            while True:
                request_from = next_batch
                try:
                    for index, arrays in self._stream(dataset_id, subset, epoch, batch_size, request_from, params):
                        next_batch = index + 1
                        failures = 0
                        yield arrays
                    break
                except IncompleteStreamError as err:
                    if err.expected is not None:
                        expected = request_from + err.expected
                    cause = err
                except AudiofeedError as err:
                    if err.status not in _TRANSIENT:
                        raise
                    cause = err
                except _NETWORK_ERRORS as err:
                    cause = err
                failures += 1
                if failures > retries:
                    raise IncompleteStreamError(next_batch - first, None if expected is None else expected - first, cause)
                time.sleep(retry_delay * failures)
            epoch += 1

    def _stream(self, dataset_id, subset, epoch, batch_size, from_batch, params):
        """Yields ``(absolute batch index, arrays)``; IncompleteStreamError's counts are relative to from_batch."""
        query = {"subset": subset, "epoch": epoch, "batch_size": batch_size}
        query.update(params)
        query["from_batch"] = from_batch
        query["format"] = "npy"
        path = "/v1/datasets/{}/batches?{}".format(
            urllib.parse.quote(dataset_id, safe=""),
            urllib.parse.urlencode({k: _query_value(v) for k, v in query.items() if v is not None}),
        )
        response = self._open(path, "application/x-npy-stream")
        with response:
            columns = [c.strip() for c in (response.headers.get("X-Audiofeed-Columns") or "x,y").split(",") if c.strip()]
            announced = response.headers.get("X-Audiofeed-Batches")
            expected = int(announced) if announced is not None else None
            body = _Body(response)
            received = 0
            while expected is None or received < expected:
                try:
                    if body.at_end():
                        if expected is None:
                            return
                        raise IncompleteStreamError(received, expected)
                    arrays = tuple(npformat.read_array(body, allow_pickle=False) for _ in columns)
                except (ValueError, EOFError) + _NETWORK_ERRORS as err:
                    # numpy raises ValueError("EOF: ...") when the bytes stop mid-array.
                    raise IncompleteStreamError(received, expected, err) from err
                received += 1
                yield from_batch + received - 1, arrays


def _problem(err):
    """AudiofeedError from an HTTPError, using the problem+json body when there is one."""
    try:
        raw = err.read()
    except _NETWORK_ERRORS:
        raw = b""
    text = raw.decode("utf-8", "replace")
    content_type = err.headers.get("Content-Type", "") if err.headers is not None else ""
    if "json" in content_type:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict):
            return AudiofeedError(
                body.get("status", err.code),
                body.get("type", "about:blank"),
                body.get("detail", text),
                body.get("title"),
                body,
            )
    return AudiofeedError(err.code, "about:blank", text or str(err.reason), str(err.reason))
