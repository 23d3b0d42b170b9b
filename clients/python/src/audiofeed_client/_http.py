"""HTTP plumbing of the client: requests with the token, safe redirects, problems, bounded JSON.

The bearer token is the service's, so it goes to the service's origin (scheme, host, port of
``base_url``) and nowhere else. urllib copies a request's headers onto the request a redirect
makes, whatever its host; here the token is an "unredirected" header, and the redirect
handler puts it back only when the new URL has the service's origin (as ``requests`` and
browsers' ``fetch`` do). Redirects to anything but http(s) are refused.
"""
import email.utils
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from .errors import ProtocolError, problem_error

# What a dropped or stalled connection looks like from urllib/http.client.
# (URLError, ConnectionResetError and socket timeouts are all OSError.)
NETWORK_ERRORS = (OSError, http.client.HTTPException)
# A problem body larger than this is not a problem the service wrote: read this much of it.
_MAX_PROBLEM_BYTES = 1 << 20


def origin(url):
    """(scheme, host, port) of a URL, the port made explicit."""
    parts = urllib.parse.urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


class _SameOriginAuthRedirectHandler(urllib.request.HTTPRedirectHandler):
    def __init__(self, trusted_origin, authorization):
        super().__init__()
        self._trusted = trusted_origin
        self._authorization = authorization

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise ProtocolError("refused a redirect from {} to {!r}: only http(s) is followed".format(req.full_url, newurl))
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            # Never carried over by urllib (it is an unredirected header): back only for the service.
            new.unredirected_hdrs.pop("Authorization", None)
            if self._authorization and origin(new.full_url) == self._trusted:
                new.add_unredirected_header("Authorization", self._authorization)
        return new


def _retry_after(headers):
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    value = (headers.get("Retry-After") or "").strip() if headers is not None else ""
    if not value:
        return None
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, int(when.timestamp() - time.time()))


def problem_from_http_error(err):
    """AudiofeedError (by status) from an HTTPError, using the problem+json body when there is one."""
    try:
        raw = err.read(_MAX_PROBLEM_BYTES)
    except NETWORK_ERRORS:
        raw = b""
    text = raw.decode("utf-8", "replace")
    headers = err.headers
    content_type = headers.get("Content-Type", "") if headers is not None else ""
    body = None
    if "json" in content_type:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
    return problem_error(err.code, body if isinstance(body, dict) else None, text, str(err.reason), _retry_after(headers))


class Transport:
    """One service: its base URL, its token, the timeout and the JSON bound."""

    def __init__(self, base_url, token=None, timeout=60.0, max_json_bytes=64 << 20):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.max_json_bytes = max_json_bytes
        self._authorization = "Bearer " + token if token else None
        self._opener = urllib.request.build_opener(_SameOriginAuthRedirectHandler(origin(self.base_url), self._authorization))

    def open(self, path, accept, method="GET", data=None, headers=None):
        """The response of ``method path`` (a 2xx); a problem raises AudiofeedError.

        ``data`` is bytes, a file or an iterable of bytes (then give Content-Length in
        ``headers``: the body is streamed, never held whole).
        """
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=dict(headers or {}, Accept=accept))
        if self._authorization:
            request.add_unredirected_header("Authorization", self._authorization)
        try:
            return self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as err:
            try:
                if 300 <= err.code < 400:
                    # A redirect urllib would not follow (another scheme, a loop, a POST on 307).
                    raise ProtocolError("refused a redirect of {} {}: {}".format(method, path, err.msg)) from None
                raise problem_from_http_error(err) from None
            finally:
                err.close()

    def json(self, path, method="GET", body=None, query=None):
        """``method path?query`` with an optional JSON body; the parsed JSON answer (None for 204)."""
        if query:
            path += "?" + urllib.parse.urlencode([(k, query_value(v)) for k, v in query.items() if v is not None])
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        with self.open(path, "application/json", method, data, headers) as response:
            return read_json(response, self.max_json_bytes)


def read_json(response, limit):
    """The JSON of a response, refused (ProtocolError) past ``limit`` bytes; None for no body."""
    raw = response.read(limit + 1)
    if len(raw) > limit:
        raise ProtocolError("a JSON response of more than max_json_bytes ({} bytes) was refused".format(limit))
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError as err:
        raise ProtocolError("the service answered malformed JSON: {}".format(err)) from None


def query_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def quote(segment):
    """A path segment (a dataset or job id), escaped."""
    return urllib.parse.quote(str(segment), safe="")
