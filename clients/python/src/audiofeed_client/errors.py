"""The client's exceptions.

``AudiofeedError`` is a problem the service answered (RFC 9457 ``application/problem+json``):
it carries the problem's ``status``, ``type``, ``title``, ``detail``, ``instance`` and its
extension members (``extensions``: ``errors`` of a validation error, ``limit`` of a 413,
``reason`` of an invalid WAV, ...). The common statuses have subclasses, so
``except NotFoundError`` reads as what it means; every one is still an ``AudiofeedError``.

The others are the client's own: ``IncompleteStreamError`` (a batch stream that ended
early), ``ProtocolError`` (a response that breaks the protocol: an array whose shape or dtype
differs from the headers, a batch larger than ``max_batch_bytes``, an unsafe redirect, an
oversized JSON body) and ``JobFailedError`` (a featurization that ended failed or cancelled).
"""

_STANDARD_MEMBERS = ("type", "title", "status", "detail", "instance")


class AudiofeedError(Exception):
    """An RFC 9457 problem returned by the service.

    ``AudiofeedError(status, type, detail, title, body)``; ``body`` is the whole problem
    object, ``extensions`` its members other than the standard five.
    """

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
        self.body = body if isinstance(body, dict) else {}
        self.instance = self.body.get("instance")
        self.extensions = {k: v for k, v in self.body.items() if k not in _STANDARD_MEMBERS}
        self.retry_after = None


class BadRequestError(AudiofeedError):
    """400: the request does not match the API (``extensions["errors"]`` lists where)."""


class UnauthorizedError(AudiofeedError):
    """401: no token, or one the service does not know."""


class ForbiddenError(AudiofeedError):
    """403: the token's scope does not cover the route, or a path outside the data roots."""


class NotFoundError(AudiofeedError):
    """404: no such dataset, job or sample."""


class ConflictError(AudiofeedError):
    """409: the name is taken, or the resource is busy."""


class PayloadTooLargeError(AudiofeedError):
    """413: a batch or an upload over the service's limit (``extensions["limit"]``)."""


class UnprocessableError(AudiofeedError):
    """422: well-formed but unacceptable settings, WAVs or dataset contents."""


class RateLimitedError(AudiofeedError):
    """429: too many requests; ``retry_after`` is the seconds the service asked to wait."""


class ServiceUnavailableError(AudiofeedError):
    """503: Redis unreachable, no worker connected, or the stream budget full; see ``retry_after``."""


_BY_STATUS = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableError,
    429: RateLimitedError,
    503: ServiceUnavailableError,
}


def problem_error(status, body, text="", reason=None, retry_after=None):
    """The AudiofeedError (subclass by status) for a problem response.

    ``body`` is the parsed problem object or None (a response that is not problem+json:
    then ``detail`` is its text).
    """
    cls = _BY_STATUS.get(status, AudiofeedError)
    if isinstance(body, dict):
        code = body.get("status")
        err = cls(
            code if isinstance(code, int) else status,
            body.get("type", "about:blank"),
            body.get("detail", text),
            body.get("title"),
            body,
        )
    else:
        err = cls(status, "about:blank", text or reason, reason)
    err.retry_after = retry_after
    return err


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


class ProtocolError(Exception):
    """The server's response breaks the protocol, so the client refuses it before using it.

    An array whose header disagrees with ``X-Audiofeed-X-Shape`` / ``X-Audiofeed-Dtype`` /
    ``X-Audiofeed-Columns``, malformed headers, a JSON body over ``max_json_bytes``, a
    redirect to a scheme other than http(s). Nothing is allocated from the untrusted
    numbers first. Never retried: the same server would answer the same.
    """


class BatchTooLargeError(ProtocolError):
    """A batch whose arrays add up to more than the client's ``max_batch_bytes``.

    ``size`` is what the npy headers claim, ``limit`` the client's bound. Raise the bound
    (``Client(..., max_batch_bytes=...)``) if the service really serves batches that large.
    """

    def __init__(self, size=None, limit=None):
        if isinstance(size, str):
            super().__init__(size)
            size = None
        else:
            super().__init__(
                "the server announced a batch of {} bytes, more than max_batch_bytes ({} bytes): refused before "
                "allocating it (ask for a smaller batch_size, or raise Client(max_batch_bytes=...))".format(size, limit)
            )
        self.size = size
        self.limit = limit


class JobFailedError(RuntimeError):
    """A featurization job that ended ``failed`` or ``cancelled``; ``progress`` is its last state."""

    def __init__(self, progress=None):
        if isinstance(progress, str):
            super().__init__(progress)
            progress = None
        else:
            p = progress or {}
            super().__init__(
                "featurization {} of {}/{} ended {}: {}".format(
                    p.get("id"),
                    p.get("dataset_id"),
                    p.get("subset"),
                    p.get("state"),
                    p.get("failed_reason") or ("cancelled" if p.get("cancelled") else "no reason given"),
                )
            )
        self.progress = progress
