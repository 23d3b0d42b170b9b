"""The audiofeed client: the whole job from Python, numpy only.

Write side: ``register`` a directory under a data root, a server-side loader or a local
folder (uploaded), ``load`` / ``unload`` subsets, ``featurize`` with a progress bar,
``jobs``, ``delete``. Read side: metadata, and batches in the ``application/x-npy-stream``
format: each batch arrives as consecutive ``.npy`` arrays in the order of the
``X-Audiofeed-Columns`` response header, read one at a time from the socket, so memory holds
one batch, never an epoch. The npy stream has no end marker, so the batch count announced in
``X-Audiofeed-Batches`` is what tells a complete epoch from a cut one. Every array is checked
against the announced shape and dtype and against ``max_batch_bytes`` before it is
allocated (``audiofeed_client._npy``).
"""
import json
import os
import re
import tarfile
import tempfile
import time
import urllib.parse
import uuid

from ._http import NETWORK_ERRORS, Transport, origin, query_value, quote, read_json
from ._npy import BatchLayout, read_batch
from .errors import AudiofeedError, IncompleteStreamError, JobFailedError, ProtocolError
from .progress import make_progress

# Statuses worth retrying while streaming: a gateway or replica was momentarily unavailable.
_TRANSIENT = frozenset({502, 503, 504})
TERMINAL_STATES = frozenset({"completed", "failed", "cancelled"})
_MAX_EVENT_LINE = 1 << 20
_UPLOAD_CHUNK = 1 << 20
# A listing longer than this is a server paging forever, not a registry.
_MAX_LISTED = 1_000_000

__all__ = ["AudiofeedError", "BatchStream", "Client", "IncompleteStreamError", "TERMINAL_STATES"]


class _Body:
    """read()-only view of a response that can tell a clean end from a cut."""

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
    bytes stop before that, it raises IncompleteStreamError; an array that does not match
    the headers (``columns``, ``x_shape``, ``dtype``) or a batch over ``max_batch_bytes``
    raises ProtocolError / BatchTooLargeError before it is allocated. ``close()`` (or
    leaving a ``with`` block) closes the connection, which is how a reader stops early.
    """

    def __init__(self, response, from_batch, max_batch_bytes=None):
        self._response = response
        headers = response.headers
        self.from_batch = from_batch
        announced = (headers.get("X-Audiofeed-Batches") or "").strip()
        if not announced.isdigit():
            response.close()
            raise IncompleteStreamError(0, None)
        try:
            self._layout = BatchLayout.from_headers(headers)
        except ProtocolError:
            response.close()
            raise
        self.columns = self._layout.columns
        self.x_shape = list(self._layout.x_shape)
        self.dtype = self._layout.dtype
        self.announced = int(announced)
        self.max_batch_bytes = Client.DEFAULT_MAX_BATCH_BYTES if max_batch_bytes is None else max_batch_bytes
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
                    arrays = read_batch(self._body, self._layout, self.max_batch_bytes)
            except ProtocolError:
                self.close()
                raise
            except (ValueError, EOFError) + NETWORK_ERRORS as err:
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


def _next_link(headers):
    """The target of ``Link: <…>; rel="next"``, or None."""
    for part in (headers.get("Link") or "").split(","):
        m = re.match(r'\s*<([^>]*)>\s*;(.*)$', part)
        if m and re.search(r'(^|;)\s*rel\s*=\s*"?next"?\s*(;|$)', m.group(2)):
            return m.group(1)
    return None


class Client:
    """``Client("http://localhost:8080", token=None)``: one audiofeed service.

    ``token`` is sent as ``Authorization: Bearer …`` to that service's origin only (never
    to another host a redirect points at). ``timeout`` bounds every socket wait in seconds.
    ``max_batch_bytes`` bounds one streamed batch (x, y and sample weights): a larger one
    raises BatchTooLargeError before anything is allocated; the service's own default limit
    (MAX_BATCH_BYTES) is 64 MiB. ``max_json_bytes`` bounds a JSON answer.
    """

    DEFAULT_MAX_BATCH_BYTES = 512 << 20

    def __init__(self, base_url, token=None, timeout=60.0, max_batch_bytes=DEFAULT_MAX_BATCH_BYTES, max_json_bytes=64 << 20):
        self._http = Transport(base_url, token, timeout, max_json_bytes)
        self.max_batch_bytes = max_batch_bytes

    @property
    def base_url(self):
        return self._http.base_url

    @property
    def token(self):
        return self._http.token

    @token.setter
    def token(self, token):
        # The redirect handler holds the token: a new transport, not a patched one.
        self._http = Transport(self.base_url, token, self.timeout, self._http.max_json_bytes)

    @property
    def timeout(self):
        return self._http.timeout

    @timeout.setter
    def timeout(self, timeout):
        self._http.timeout = timeout

    # A Client travels to DataLoader worker processes: its settings do, not its opener.
    def __getstate__(self):
        return {
            "base_url": self.base_url,
            "token": self.token,
            "timeout": self.timeout,
            "max_batch_bytes": self.max_batch_bytes,
            "max_json_bytes": self._http.max_json_bytes,
        }

    def __setstate__(self, state):
        self.__init__(**state)

    def __repr__(self):
        return "Client({!r})".format(self.base_url)

    # -- plumbing -----------------------------------------------------------------

    def get_json(self, path):
        """GET ``path`` (from the service root, with its query) as JSON."""
        return self._http.json(path)

    def _pages(self, path, key, query, limit):
        """Items under ``key`` of a listing; with ``limit`` None every page (``Link: rel=next``)."""
        pairs = [(k, query_value(v)) for k, v in query.items() if v is not None]
        url = path + "?" + urllib.parse.urlencode(pairs) if pairs else path
        base = urllib.parse.urlsplit(self.base_url)
        items = []
        seen = set()
        while url and url not in seen:
            seen.add(url)
            with self._http.open(url, "application/json") as response:
                body = read_json(response, self._http.max_json_bytes)
                following = _next_link(response.headers)
            if not isinstance(body, dict) or not isinstance(body.get(key), list):
                raise ProtocolError("GET {} did not answer an object with a {!r} list".format(url, key))
            items.extend(body[key])
            if limit is not None or following is None or not body[key]:
                break
            if len(items) > _MAX_LISTED:
                raise ProtocolError("a listing of more than {} items: the server keeps paging".format(_MAX_LISTED))
            # Only a link on the service itself is followed (the token goes there).
            joined = urllib.parse.urljoin(self.base_url + url, following)
            target = urllib.parse.urlsplit(joined)
            if origin(joined) != origin(self.base_url):
                raise ProtocolError("a Link rel=next to another origin was not followed: {}".format(following))
            prefix = base.path.rstrip("/")
            path_only = target.path[len(prefix) :] if prefix and target.path.startswith(prefix + "/") else target.path
            url = path_only + ("?" + target.query if target.query else "")
        return items

    # -- datasets: write side ---------------------------------------------------------

    def register(self, path=None, classes=None, name=None, *, upload=None, loader=None, loader_options=None, **settings):
        """Registers a dataset (POST /v1/datasets); returns its view (as ``dataset()``).

        The source is one of: ``path``, a directory under one of the service's data roots
        (DATA_ROOTS; relative to the first); ``upload``, a local directory (sent as one
        tar.gz) or a zip/tar/tar.gz archive; ``loader`` (with ``loader_options``), a
        server-side loader module. ``classes`` is the ordered class list (may hold
        ``_unknown_`` and ``_silence_``); ``name`` the dataset id. Other keyword arguments
        are the registration settings, MLTK names: ``validation_split``,
        ``unknown_class_percentage``, ``silence_class_percentage``, ``class_mode``,
        ``class_weights``, ``seed``, ``batch_size``, ``dtype``, ``frontend_settings``,
        ``augmentation``, ``listing``, ``load``, ...
        """
        if sum(x is not None for x in (path, upload, loader)) != 1:
            raise ValueError("register() takes exactly one source: path=, upload= or loader=")
        if classes is not None:
            settings["classes"] = list(classes)
        if name is not None:
            settings["name"] = name
        if upload is not None:
            return self._upload(upload, settings)
        if path is not None:
            source = {"type": "directory", "path": os.fspath(path)}
        else:
            source = {"type": "loader", "name": loader}
            if loader_options is not None:
                source["options"] = loader_options
        return self._http.json("/v1/datasets", "POST", dict(settings, source=source))

    def _upload(self, upload, settings):
        upload = os.fspath(upload)
        if os.path.isdir(upload):
            with tempfile.TemporaryDirectory(prefix="audiofeed-upload-") as tmp:
                archive = os.path.join(tmp, "dataset.tar.gz")
                _pack_directory(upload, archive)
                return self._send_upload(archive, settings)
        if not os.path.isfile(upload):
            raise FileNotFoundError("upload= names neither a directory nor a file: {}".format(upload))
        return self._send_upload(upload, settings)

    def _send_upload(self, file_path, settings):
        boundary = "audiofeed-" + uuid.uuid4().hex
        filename = os.path.basename(file_path).replace('"', "%22").replace("\r", "").replace("\n", "")
        head = (
            # The settings part as a plain field: the service parses its text as JSON itself.
            "--{b}\r\nContent-Disposition: form-data; name=\"settings\"\r\n\r\n{s}\r\n"
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{f}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).format(b=boundary, s=json.dumps(dict(settings, source={"type": "upload"})), f=filename).encode("utf-8")
        tail = "\r\n--{}--\r\n".format(boundary).encode("ascii")
        size = os.path.getsize(file_path)

        def body():
            yield head
            with open(file_path, "rb") as f:
                while True:
                    chunk = f.read(_UPLOAD_CHUNK)
                    if not chunk:
                        break
                    yield chunk
            yield tail

        headers = {"Content-Type": "multipart/form-data; boundary=" + boundary, "Content-Length": str(len(head) + size + len(tail))}
        with self._http.open("/v1/datasets", "application/json", "POST", body(), headers) as response:
            return read_json(response, self._http.max_json_bytes)

    def load(self, dataset_id, subset):
        """MLTK ``load_dataset(subset)``: makes ``subset`` servable (adds it to ``loaded_subsets``)."""
        return self._http.json("/v1/datasets/{}/load".format(quote(dataset_id)), "POST", {"subset": subset})

    def unload(self, dataset_id, subset=None):
        """MLTK ``unload_dataset()``: every subset, or only ``subset``; returns the dataset view."""
        body = None if subset is None else {"subset": subset}
        return self._http.json("/v1/datasets/{}/unload".format(quote(dataset_id)), "POST", body)

    def delete(self, dataset_id, purge=False):
        """DELETE /v1/datasets/{id}; ``purge`` also removes its feature shards (and an uploaded tree)."""
        self._http.json("/v1/datasets/{}".format(quote(dataset_id)), "DELETE", query={"purge": True} if purge else None)

    # -- featurization jobs ---------------------------------------------------------

    def featurize(self, dataset_id, subset="training", wait=True, progress=True, timeout=None, poll_interval=1.0, file=None):
        """Featurizes a subset on the service's workers.

        ``wait=False``: returns the accepted job (``job_id``, ``created``, ``status_url``,
        ``events_url``) at once. ``wait=True``: follows it (server-sent events, else
        polling every ``poll_interval`` s) with a progress bar (``progress``: True = tqdm
        if installed, else a plain line on ``file``/stderr; False = none; a callable gets
        every progress dict) and returns the final progress (``clips_done``,
        ``failures``: the clips that could not be featurized, ...). A job that ends failed
        or cancelled raises JobFailedError; ``timeout`` seconds without the end raise
        TimeoutError (the job goes on: ``wait(job_id)``). A service without a worker
        answers 503: ServiceUnavailableError with ``retry_after``.
        """
        accepted = self._http.json("/v1/datasets/{}/featurize".format(quote(dataset_id)), "POST", {"subset": subset})
        if not isinstance(accepted, dict) or not isinstance(accepted.get("job_id"), str):
            raise ProtocolError("featurize answered no job_id: {!r}".format(accepted))
        if not wait:
            return accepted
        return self.wait(accepted["job_id"], progress, timeout, poll_interval, desc="featurize {}/{}".format(dataset_id, subset), file=file)

    def job(self, job_id):
        """GET /v1/jobs/{id}: a featurization's progress."""
        return self._http.json("/v1/jobs/{}".format(quote(job_id)))

    def jobs(self, dataset=None, state=None, limit=None, offset=None):
        """Featurization jobs (GET /v1/jobs), filtered by dataset id and state.

        With ``limit`` one page from ``offset``; without it every job, page after page.
        """
        query = {"dataset": dataset, "state": state, "limit": limit, "offset": offset}
        return self._pages("/v1/jobs", "jobs", query, limit)

    def cancel(self, job_id):
        """DELETE /v1/jobs/{id}: cancels a featurization (a finished one is left as it is)."""
        return self._http.json("/v1/jobs/{}".format(quote(job_id)), "DELETE")

    def wait(self, job_id, progress=True, timeout=None, poll_interval=1.0, desc=None, file=None):
        """Follows a job to its end, showing ``progress``; see ``featurize``."""
        bar = make_progress(progress, desc or job_id, file)
        deadline = None if timeout is None else time.monotonic() + timeout
        last = None
        try:
            for last in self._watch(job_id, deadline, poll_interval):
                bar.update(last)
                if last.get("state") in TERMINAL_STATES:
                    break
        finally:
            bar.close(last)
        if last is None or last.get("state") != "completed":
            raise JobFailedError(last)
        return last

    def _watch(self, job_id, deadline, poll_interval):
        """Progress dicts of a job until a terminal one: its events, then polling if they stop."""
        try:
            for p in self._events(job_id, deadline):
                yield p
                if p.get("state") in TERMINAL_STATES:
                    return
        except (ProtocolError, IncompleteStreamError) + NETWORK_ERRORS:
            pass  # no usable event stream (a proxy that buffers it, a dropped connection): poll
        while True:
            p = self.job(job_id)
            if not isinstance(p, dict):
                raise ProtocolError("GET /v1/jobs/{} answered {!r}".format(job_id, p))
            yield p
            if p.get("state") in TERMINAL_STATES:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("job {} is not done after the timeout; it goes on on the service: wait({!r})".format(job_id, job_id))
            time.sleep(poll_interval)

    def _events(self, job_id, deadline):
        """The job's server-sent events (``progress``, ``done``) as progress dicts."""
        with self._http.open("/v1/jobs/{}/events".format(quote(job_id)), "text/event-stream") as response:
            if not (response.headers.get("Content-Type") or "").startswith("text/event-stream"):
                raise ProtocolError("the job's events are not text/event-stream")
            event, data = "message", []
            while True:
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError("job {} is not done after the timeout; it goes on on the service: wait({!r})".format(job_id, job_id))
                line = response.readline(_MAX_EVENT_LINE + 1)
                if not line:
                    raise IncompleteStreamError("the job's event stream ended before its end")
                if len(line) > _MAX_EVENT_LINE:
                    raise ProtocolError("an event line of more than {} bytes".format(_MAX_EVENT_LINE))
                line = line.decode("utf-8", "replace").rstrip("\r\n")
                if line:
                    if line.startswith(":"):
                        continue  # keep-alive comment
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "event":
                        event = value
                    elif field == "data":
                        data.append(value)
                    continue
                if event in ("progress", "done") and data:
                    try:
                        p = json.loads("\n".join(data))
                    except ValueError:
                        raise ProtocolError("a job event that is not JSON") from None
                    if not isinstance(p, dict):
                        raise ProtocolError("a job event that is not an object")
                    yield p
                    if event == "done":
                        return
                elif event == "error":
                    raise IncompleteStreamError("the job's event stream reported an error: " + "\n".join(data))
                event, data = "message", []

    # -- datasets: read side ----------------------------------------------------------

    def datasets(self, limit=None, offset=None):
        """GET /v1/datasets: the registered datasets' views (every page without ``limit``)."""
        return self._pages("/v1/datasets", "datasets", {"limit": limit, "offset": offset}, limit)

    def dataset(self, id):
        """GET /v1/datasets/{id}: audio_classes, audio_input_shape, class_mode, ..."""
        return self.get_json("/v1/datasets/" + quote(id))

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
        return self._http.json("/v1/datasets/{}/datagen".format(quote(dataset_id)), query=dict(params, subset=subset))

    def batches(self, dataset_id, subset="training", epoch=0, batch_size=32, from_batch=0, **params):
        """One request: yields ``(x, y)``, ``(x, y, sample_weight)`` or ``(x,)`` per batch.

        Extra keyword arguments become query parameters (shuffle, steps_per_epoch,
        class_mode, dtype, class_weight, sample_weight_id, augment). Raises AudiofeedError
        for a problem response, IncompleteStreamError if the stream ends early and
        ProtocolError for arrays that do not match the response's headers.
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
            quote(dataset_id),
            urllib.parse.urlencode({k: query_value(v) for k, v in query.items() if v is not None}),
        )
        return BatchStream(self._http.open(path, "application/x-npy-stream"), from_batch, self.max_batch_bytes)

    def batch_range(
        self, dataset_id, subset, epoch, batch_size, start=0, stop=None, retries=3, retry_delay=0.5, stream=None, **params
    ):
        """Arrays of batches ``start … stop-1`` of one epoch (``stop`` None: to its end).

        A dropped connection is resumed with ``from_batch`` = the next batch not yet
        received; after ``retries`` consecutive attempts without progress it raises
        IncompleteStreamError (counts relative to ``start``). Reaching ``stop`` closes the
        connection: the service has no end parameter, so that is how a slice ends.
        ``stream`` is an already open BatchStream starting at ``start`` to read first.
        ProtocolError (a response that breaks the protocol) is never retried.
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
            except ProtocolError:
                raise
            except NETWORK_ERRORS as err:
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


def _pack_directory(directory, archive):
    """A tar.gz of the regular files under ``directory`` (symlinks to files followed), names relative to it."""
    with tarfile.open(archive, "w:gz", dereference=True) as tar:
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                if os.path.isfile(full):
                    tar.add(full, arcname=os.path.relpath(full, directory).replace(os.sep, "/"), recursive=False)

