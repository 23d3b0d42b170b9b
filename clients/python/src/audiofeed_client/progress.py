"""Progress display for ``Client.featurize(..., wait=True)``.

tqdm when it is installed (``pip install 'audiofeed-client[progress]'``; ``tqdm.auto`` picks
the notebook widget in Jupyter), otherwise a plain line: redrawn in place on a terminal,
and one line per step of at least 10% (and the last) when the output is a file or a pipe,
so a CI log or a notebook without widgets stays readable.
"""
import sys
import time


def describe(progress):
    """One line for a JobProgress: clips and shards done, rate, ETA, failures."""
    total = progress.get("clips_total") or 0
    done = progress.get("clips_done") or 0
    pct = "{:3d}%".format(int(100 * done / total)) if total else "   ?"
    parts = [
        "{} {}/{} clips".format(pct, done, total),
        "{}/{} shards".format(progress.get("shards_done", 0), progress.get("shards_total", 0)),
    ]
    rate = progress.get("clips_per_second")
    if rate:
        parts.append("{:.0f} clips/s".format(rate))
    eta = progress.get("eta_seconds")
    if eta is not None and progress.get("state") not in ("completed", "failed", "cancelled"):
        parts.append("ETA {:.0f}s".format(eta))
    failed = len(progress.get("failures") or [])
    if failed:
        parts.append("{} clips skipped".format(failed))
    parts.append(str(progress.get("state", "?")))
    return ", ".join(parts)


class PlainProgress:
    """The fallback bar: a line on ``file`` (stderr by default)."""

    def __init__(self, desc, file=None):
        self.desc = desc
        self.file = file if file is not None else sys.stderr
        self._tty = bool(getattr(self.file, "isatty", lambda: False)())
        self._last_step = None
        self._last_line = None
        self._last_time = 0.0

    def update(self, progress):
        line = "{}: {}".format(self.desc, describe(progress))
        if line == self._last_line:
            return
        total = progress.get("clips_total") or 0
        step = int(10 * (progress.get("clips_done") or 0) / total) if total else 0
        now = time.monotonic()
        if self._tty:
            if now - self._last_time < 0.1 and step == self._last_step:
                return
            self.file.write("\r" + line.ljust(len(self._last_line or "")))
        else:
            if step == self._last_step and now - self._last_time < 30:
                return
            self.file.write(line + "\n")
        self.file.flush()
        self._last_step, self._last_line, self._last_time = step, line, now

    def close(self, progress=None):
        if progress is not None:
            line = "{}: {}".format(self.desc, describe(progress))
            if line != self._last_line:
                self.file.write(("\r" + line.ljust(len(self._last_line or ""))) if self._tty else line + "\n")
                self._last_line = line
        if self._tty and self._last_line is not None:
            self.file.write("\n")
        self.file.flush()


class TqdmProgress:
    """tqdm counting clips, with shards and state as its postfix."""

    def __init__(self, desc, file=None):
        from tqdm.auto import tqdm

        self._bar = tqdm(total=None, desc=desc, unit="clip", file=file, dynamic_ncols=True)

    def update(self, progress):
        total = progress.get("clips_total")
        if total and self._bar.total != total:
            self._bar.total = total
        self._bar.n = progress.get("clips_done") or 0
        self._bar.set_postfix_str(
            "{}/{} shards, {}".format(progress.get("shards_done", 0), progress.get("shards_total", 0), progress.get("state", "?")),
            refresh=False,
        )
        self._bar.refresh()

    def close(self, progress=None):
        if progress is not None:
            self.update(progress)
        self._bar.close()


class _Callback:
    def __init__(self, fn):
        self._fn = fn

    def update(self, progress):
        self._fn(progress)

    def close(self, progress=None):
        pass


class _Silent:
    def update(self, progress):
        pass

    def close(self, progress=None):
        pass


def make_progress(progress, desc, file=None):
    """``progress``: True (tqdm if installed, else PlainProgress), False/None (silent), or a
    callable that gets every JobProgress dict."""
    if callable(progress):
        return _Callback(progress)
    if not progress:
        return _Silent()
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return PlainProgress(desc, file)
    return TqdmProgress(desc, file)
