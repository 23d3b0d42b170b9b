"""HTTP client for audiofeed, reading the ``application/x-npy-stream`` batch format.

Each batch arrives as consecutive ``.npy`` arrays in the order of the
``X-Audiofeed-Columns`` response header; they are read one at a time straight from the
socket with ``numpy.lib.format.read_array``, so memory holds one batch, never an epoch.
The npy stream has no end marker, so the batch count announced in ``X-Audiofeed-Batches``
is what tells a complete epoch from a cut one.
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

    def __init__(self, status, type=None, detail=None, title=None, body=None):
        if isinstance(status, str) and type is None and detail is None:
            # Rebuilt from a message alone: that is how torch's DataLoader re-raises an
            # exception of one of its worker processes in the training process.
            super().__init__(status)
            status = None
        else:
            super().__init__("{} {}: {}".format(status, title or type, detail))
        self.status = status
        self.type = type
        self.detail = detail
        self.title = title
        self.body = body if body is not None else {}


class IncompleteStreamError(IOError):
    """The batch stream ended before the batches announced in ``X-Audiofeed-Batches``.

    Raised for a body that ends cleanly on a batch boundary but too early (``cause`` None),
    a connection or frame cut mid-array (``cause`` is numpy's or http.client's error), a
    stalled socket, and a response without the header (then ``expected`` is None: the
    client cannot tell a complete epoch from a cut one). ``received`` and ``expected``
    count batches from the request's ``from_batch``.
    """

    def __init__(self, received=None, expected=None, cause=None):
        if isinstance(received, str):
            # Rebuilt from a message alone (torch DataLoader workers, pickling).
            super().__init__(received)
            received = None
        elif expected is None:
            super().__init__(
                "batch stream without a valid X-Audiofeed-Batches header: a cut stream could not be told "
                "from a complete one, so it is not read (is this an audiofeed service?)"
            )
        else:
            super().__init__(
                "batch stream ended early: {} of {} batches arrived ({}); the epoch is incomplete".format(
                    received,
                    expected,
                    "the body ended on a batch boundary" if cause is None else "cut: {!r}".format(cause),
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


class BatchStream:
    """One open batch request (``Client.open_batches``): its headers, then its batches.

    Iterating yields ``(index, arrays)``: the batch's absolute index in the epoch and a
    tuple in the order of ``columns``. It stops after the ``announced`` batches; if the
    bytes stop before that, it raises IncompleteStreamError. ``close()`` (or leaving a
    ``with`` block) closes the connection, which is how a reader stops a stream early.
    """

    def __init__(self, response, from_batch):
        self._response = response
        headers = response.headers
        self.from_batch = from_batch
        self.columns = tuple(c.strip() for c in (headers.get("X-Audiofeed-Columns") or "x,y").split(",") if c.strip())
        self.x_shape = json.loads(headers["X-Audiofeed-X-Shape"]) if headers.get("X-Audiofeed-X-Shape") else None
        self.dtype = headers.get("X-Audiofeed-Dtype")
        announced = (headers.get("X-Audiofeed-Batches") or "").strip()
        if not announced.isdigit():
            response.close()
            raise IncompleteStreamError(0, None)
        self.announced = int(announced)
        self.received = 0
        self._body = _Body(response)

    @property
    def end(self):
        """Index one past the last batch of the epoch."""
        return self.from_batch + self.announced

    def __iter__(self):
        while self.received < self.announced:
            cause = None
            try:
                if self._body.at_end():
                    arrays = None
                else:
                    # numpy raises ValueError("EOF: ...") when the bytes stop mid-array;
                    # http.client raises IncompleteRead when a chunked body is cut.
                    arrays = tuple(npformat.read_array(self._body, allow_pickle=False) for _ in self.columns)
            except (ValueError, EOFError) + _NETWORK_ERRORS as err:
                cause = err
                arrays = None
            if arrays is None:
                self.close()
                raise IncompleteStreamError(self.received, self.announced, cause) from cause
            self.received += 1
            yield self.from_batch + self.received - 1, arrays

    def close(self):
        self._response.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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

    def datagen(self, dataset_id, subset="training", **params):
        """GET /v1/datasets/{id}/datagen (MLTK datagen_context): what the subset's generator uses.

        Returns a dict: batch_size, shuffle, seed, augmentation (or None), class_mode, dtype,
        the standardization the service applies to x (rescale, samplewise_center,
        samplewise_std_normalization, samplewise_normalize_range; dtype is then float32),
        samples, batches_per_epoch, steps_per_epoch, batches, x_shape, classes, and with
        ``epoch=N`` whether validation runs after that epoch (``validation_after_epoch``).
        Keyword arguments are the batches query parameters (batch_size, shuffle,
        steps_per_epoch, validation_steps, validation_freq, ...).
        """
        query = dict(params, subset=subset)
        return self.get_json(
            "/v1/datasets/{}/datagen?{}".format(
                urllib.parse.quote(dataset_id, safe=""),
                urllib.parse.urlencode({k: _query_value(v) for k, v in query.items() if v is not None}),
            )
        )

    def batches(self, dataset_id, subset="training", epoch=0, batch_size=32, from_batch=0, **params):
        """One request: yields ``(x, y)``, ``(x, y, sample_weight)`` or ``(x,)`` per batch.

        Extra keyword arguments become query parameters (shuffle, steps_per_epoch,
        class_mode, dtype, class_weight, sample_weight_id). Raises AudiofeedError for a
        problem response and IncompleteStreamError if the stream ends early.
        """
        with self.open_batches(dataset_id, subset, epoch, batch_size, from_batch, **params) as stream:
            for _, arrays in stream:
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
            first = from_batch if epoch == start_epoch else 0
            yield from self.batch_range(dataset_id, subset, epoch, batch_size, first, None, retries, retry_delay, **params)
            epoch += 1

    def open_batches(self, dataset_id, subset="training", epoch=0, batch_size=32, from_batch=0, **params):
        """GET …/batches?format=npy&from_batch=…: a BatchStream with the response's headers read."""
        query = {"subset": subset, "epoch": epoch, "batch_size": batch_size}
        query.update(params)
        query["from_batch"] = from_batch
        query["format"] = "npy"
        path = "/v1/datasets/{}/batches?{}".format(
            urllib.parse.quote(dataset_id, safe=""),
            urllib.parse.urlencode({k: _query_value(v) for k, v in query.items() if v is not None}),
        )
        return BatchStream(self._open(path, "application/x-npy-stream"), from_batch)

    def batch_range(
        self, dataset_id, subset, epoch, batch_size, start=0, stop=None, retries=3, retry_delay=0.5, stream=None, **params
    ):
        """Arrays of batches ``start … stop-1`` of one epoch (``stop`` None: to its end).

        A dropped connection is resumed with ``from_batch`` = the next batch not yet
        received; after ``retries`` consecutive attempts without progress it raises
        IncompleteStreamError (counts relative to ``start``). Reaching ``stop`` closes the
        connection: the service has no end parameter, so that is how a slice ends.
        ``stream`` is an already open BatchStream starting at ``start`` to read first.
        """
        next_batch = start
        end = stop
        failures = 0
        while end is None or next_batch < end:
            try:
                if stream is None:
                    stream = self.open_batches(dataset_id, subset, epoch, batch_size, next_batch, **params)
                with stream:
                    end = stream.end if end is None else min(end, stream.end)
                    for index, arrays in stream:
                        if index >= end:
                            break
                        next_batch = index + 1
                        failures = 0
                        yield arrays
                        if next_batch >= end:
                            break
                break
            except IncompleteStreamError as err:
                if err.expected is None:
                    raise  # no batch count: retrying cannot help
                cause = err
            except AudiofeedError as err:
                if err.status not in _TRANSIENT:
                    raise
                cause = err
            except _NETWORK_ERRORS as err:
                cause = err
            stream = None
            failures += 1
            if failures > retries:
                if end is None:
                    raise cause  # never got a stream: the service's or the network's own error
                # The last attempt's own cause (None: its body ended on a batch boundary).
                last = cause.cause if isinstance(cause, IncompleteStreamError) else cause
                raise IncompleteStreamError(next_batch - start, end - start, last) from cause
            time.sleep(retry_delay * failures)


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
