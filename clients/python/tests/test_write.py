"""The write side against a fake service: what the client sends and how it reads the answers.

register (directory, loader, upload), load / unload, delete, featurize (wait=False; wait=True
over server-sent events, over polling when the events are not usable, failed, timed out,
503 without a worker), jobs and datasets with Link pagination, cancel, and problem+json
answers as AudiofeedError subclasses with every member. The live path (a real service)
is test/clients/python-package.test.ts.
"""
import email.parser
import email.policy
import io
import json
import os
import pickle
import tarfile
import tempfile
import unittest

from fakes import FakeServer, progress, send, send_events, send_json, send_problem

import audiofeed_client
from audiofeed_client import (
    AudiofeedError,
    BadRequestError,
    Client,
    ConflictError,
    JobFailedError,
    NotFoundError,
    ProtocolError,
    ServiceUnavailableError,
    UnprocessableError,
)
from audiofeed_client.progress import PlainProgress

JOB = "featurize-" + "0" * 32
VIEW = {"id": "kws", "status": "ready", "audio_classes": ["yes", "no"], "loaded_subsets": ["training"]}


def accepted(h):
    send_json(h, 202, {"job_id": JOB, "created": True, "status_url": "/v1/jobs/" + JOB, "events_url": "/v1/jobs/" + JOB + "/events"})


def multipart_parts(request):
    """(name, filename, content type, payload) of each part of a multipart/form-data request."""
    head = "Content-Type: {}\r\n\r\n".format(request.headers["Content-Type"]).encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    return [(p.get_param("name", header="content-disposition"), p.get_filename(), p.get_content_type(), p.get_payload(decode=True)) for p in message.iter_parts()]


class RegisterTest(unittest.TestCase):
    def test_register_a_directory_under_a_data_root(self):
        with FakeServer(lambda r, h: send_json(h, 201, VIEW)) as s:
            view = Client(s.base, token="adm").register(
                "kws-data", classes=["yes", "no", "_unknown_"], name="kws", validation_split=0.2, seed=7
            )
        self.assertEqual(view, VIEW)
        (r,) = s.requests
        self.assertEqual((r.method, r.path, r.headers["Content-Type"], r.headers["Authorization"]), ("POST", "/v1/datasets", "application/json", "Bearer adm"))
        self.assertEqual(
            json.loads(r.body),
            {
                "source": {"type": "directory", "path": "kws-data"},
                "classes": ["yes", "no", "_unknown_"],
                "name": "kws",
                "validation_split": 0.2,
                "seed": 7,
            },
        )

    def test_register_a_loader(self):
        with FakeServer(lambda r, h: send_json(h, 201, VIEW)) as s:
            Client(s.base).register(loader="speech_commands", loader_options={"version": 2}, classes=["yes"])
        self.assertEqual(json.loads(s.requests[0].body)["source"], {"type": "loader", "name": "speech_commands", "options": {"version": 2}})

    def test_register_takes_exactly_one_source(self):
        client = Client("http://127.0.0.1:9")
        with self.assertRaises(ValueError):
            client.register(classes=["yes"])
        with self.assertRaises(ValueError):
            client.register("a", loader="b", classes=["yes"])

    def test_register_uploads_a_local_directory_as_one_tar_gz_after_its_settings(self):
        with tempfile.TemporaryDirectory() as tmp:
            for rel, data in (("yes/a.wav", b"RIFF-a"), ("no/b.wav", b"RIFF-bb"), ("no/sub/c.wav", b"RIFF-ccc")):
                os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
                with open(os.path.join(tmp, rel), "wb") as f:
                    f.write(data)
            os.symlink(os.path.join(tmp, "yes", "a.wav"), os.path.join(tmp, "yes", "link.wav"))
            with FakeServer(lambda r, h: send_json(h, 201, VIEW)) as s:
                Client(s.base).register(upload=tmp, classes=["yes", "no"], name="mine")
        (r,) = s.requests
        self.assertTrue(r.headers["Content-Type"].startswith("multipart/form-data; boundary="))
        self.assertEqual(int(r.headers["Content-Length"]), len(r.body))
        (settings, archive) = multipart_parts(r)
        self.assertEqual(settings[0], "settings")
        self.assertEqual(json.loads(settings[3]), {"classes": ["yes", "no"], "name": "mine", "source": {"type": "upload"}})
        self.assertEqual(archive[:2], ("file", "dataset.tar.gz"))
        with tarfile.open(fileobj=io.BytesIO(archive[3]), mode="r:gz") as tar:
            members = {m.name: m for m in tar.getmembers()}
            self.assertEqual(sorted(members), ["no/b.wav", "no/sub/c.wav", "yes/a.wav", "yes/link.wav"])
            self.assertTrue(all(m.isfile() for m in members.values()), "a symlink is sent as the file it points to")
            self.assertEqual(tar.extractfile("yes/link.wav").read(), b"RIFF-a")

    def test_register_uploads_an_archive_file_as_it_is(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "clips.zip")
            with open(path, "wb") as f:
                f.write(b"PK\x03\x04 not really a zip")
            with FakeServer(lambda r, h: send_json(h, 201, VIEW)) as s:
                Client(s.base).register(upload=path, classes=["yes"])
            with self.assertRaises(FileNotFoundError):
                Client(s.base).register(upload=os.path.join(tmp, "missing"), classes=["yes"])
        (_, archive) = multipart_parts(s.requests[0])
        self.assertEqual((archive[1], archive[3]), ("clips.zip", b"PK\x03\x04 not really a zip"))


class ProblemTest(unittest.TestCase):
    def test_a_problem_becomes_the_subclass_of_its_status_with_every_member(self):
        errors = [{"location": "body/validation_split", "message": "must be < 1"}]

        def respond(r, h):
            send_problem(h, 400, "validation-error", "body/validation_split must be < 1", errors=errors)

        with FakeServer(respond) as s:
            with self.assertRaises(BadRequestError) as ctx:
                Client(s.base).register("d", classes=["yes"], validation_split=2)
        e = ctx.exception
        self.assertIsInstance(e, AudiofeedError)
        self.assertEqual((e.status, e.type, e.title), (400, "https://audiofeed.dev/problems/validation-error", "Problem validation-error"))
        self.assertEqual((e.detail, e.instance), ("body/validation_split must be < 1", "/v1/datasets"))
        self.assertEqual(e.extensions, {"errors": errors})
        self.assertEqual(e.body["errors"], errors)

    def test_common_statuses_have_their_own_class(self):
        cases = [
            (404, "dataset-not-found", NotFoundError),
            (409, "dataset-exists", ConflictError),
            (422, "invalid-settings", UnprocessableError),
            (418, "teapot", AudiofeedError),
        ]
        for status, code, cls in cases:
            with self.subTest(status=status):
                with FakeServer(lambda r, h: send_problem(h, status, code, "no")) as s:
                    with self.assertRaises(cls) as ctx:
                        Client(s.base).dataset("kws")
                self.assertIs(type(ctx.exception), cls)
                self.assertEqual(ctx.exception.status, status)

    def test_errors_survive_a_round_trip_through_their_message(self):
        # How torch's DataLoader re-raises a worker's exception in the training process.
        for cls in (NotFoundError, JobFailedError, audiofeed_client.BatchTooLargeError):
            self.assertEqual(str(cls("worker said so")), "worker said so")


class LifecycleTest(unittest.TestCase):
    def test_load_unload_delete(self):
        def respond(r, h):
            if r.method == "DELETE":
                send(h, 204, b"", None)
            else:
                send_json(h, 200, VIEW)

        with FakeServer(respond) as s:
            c = Client(s.base)
            self.assertEqual(c.load("kws", "validation"), VIEW)
            c.unload("kws")
            c.unload("kws", subset="validation")
            self.assertIsNone(c.delete("kws"))
            c.delete("kws", purge=True)
        got = [(r.method, r.path, r.query, r.body) for r in s.requests]
        self.assertEqual(
            got,
            [
                ("POST", "/v1/datasets/kws/load", {}, b'{"subset": "validation"}'),
                ("POST", "/v1/datasets/kws/unload", {}, b""),
                ("POST", "/v1/datasets/kws/unload", {}, b'{"subset": "validation"}'),
                ("DELETE", "/v1/datasets/kws", {}, b""),
                ("DELETE", "/v1/datasets/kws", {"purge": "true"}, b""),
            ],
        )
        self.assertIsNone(s.requests[1].headers.get("Content-Type"), "an empty POST declares no JSON body")

    def test_ids_are_escaped_in_paths(self):
        with FakeServer(lambda r, h: send_json(h, 200, VIEW)) as s:
            Client(s.base).load("a/../b", "training")
        self.assertEqual(s.requests[0].path, "/v1/datasets/a%2F..%2Fb/load")

    def test_a_new_token_is_sent_from_then_on(self):
        with FakeServer(lambda r, h: send_json(h, 200, VIEW)) as s:
            c = Client(s.base)
            c.dataset("kws")
            c.token = "later"
            c.timeout = 5
            c.dataset("kws")
        self.assertEqual([r.headers.get("Authorization") for r in s.requests], [None, "Bearer later"])
        self.assertEqual((c.token, c.timeout), ("later", 5))

    def test_a_client_pickles_with_its_settings(self):
        c = Client("http://127.0.0.1:9/", token="t", timeout=5, max_batch_bytes=1024)
        d = pickle.loads(pickle.dumps(c))
        self.assertEqual((d.base_url, d.token, d.timeout, d.max_batch_bytes), ("http://127.0.0.1:9", "t", 5, 1024))


class FeaturizeTest(unittest.TestCase):
    steps = [progress(JOB, "waiting-children", 0), progress(JOB, "active", 40), progress(JOB, "active", 80)]
    final = progress(JOB, "completed", 120, finished_at="2026-12-06T00:00:03.000Z")

    def service(self, events=None, polls=None, post=accepted):
        """POST …/featurize answers ``post``; the events and GET /v1/jobs/{id} answer in turn."""
        polls = list(polls or [])

        def respond(r, h):
            if r.method == "POST":
                post(h)
            elif r.path.endswith("/events"):
                events(h) if callable(events) else send_events(h, events)
            else:
                send_json(h, 200, polls.pop(0) if len(polls) > 1 else polls[0])

        return FakeServer(respond)

    def test_wait_false_returns_the_accepted_job(self):
        with self.service() as s:
            got = Client(s.base).featurize("kws", "validation", wait=False)
        self.assertEqual(got["job_id"], JOB)
        self.assertEqual((s.requests[0].path, json.loads(s.requests[0].body)), ("/v1/datasets/kws/featurize", {"subset": "validation"}))
        self.assertEqual(len(s.requests), 1)

    def test_wait_follows_the_server_sent_events_to_the_end(self):
        seen = []
        events = [("progress", p) for p in self.steps] + [("done", self.final)]
        with self.service(events) as s:
            got = Client(s.base).featurize("kws", progress=seen.append)
        self.assertEqual(got, self.final)
        self.assertEqual([p["clips_done"] for p in seen], [0, 40, 80, 120])
        self.assertEqual([r.path for r in s.requests], ["/v1/datasets/kws/featurize", "/v1/jobs/{}/events".format(JOB)])

    def test_the_progress_bar_shows_clips_and_shards(self):
        events = [("progress", p) for p in self.steps] + [("done", self.final)]
        out = io.StringIO()
        with self.service(events) as s:
            Client(s.base).featurize("kws", progress=True, file=out)
        text = out.getvalue()
        self.assertIn("featurize kws/training", text)
        self.assertIn("120/120", text)
        self.assertIn("6/6 shards", text)

    def test_without_usable_events_it_polls_the_job(self):
        def not_events(h):
            send(h, 200, b"<html>buffered by a proxy</html>", "text/html")

        with self.service(not_events, self.steps + [self.final]) as s:
            got = Client(s.base).featurize("kws", progress=False, poll_interval=0.01)
        self.assertEqual(got["state"], "completed")
        self.assertEqual([r.path for r in s.requests[2:]], ["/v1/jobs/" + JOB] * 4)

    def test_an_event_stream_that_drops_falls_back_to_polling(self):
        def dropped(h):
            send_events(h, [("progress", self.steps[1])])  # then the connection closes, no done

        with self.service(dropped, [self.final]) as s:
            got = Client(s.base).featurize("kws", progress=False, poll_interval=0.01)
        self.assertEqual(got, self.final)

    def test_a_failed_job_raises_job_failed_error(self):
        failed = progress(JOB, "failed", 40, failed_reason="worker lost the shard lock")
        with self.service([("progress", self.steps[1]), ("done", failed)]) as s:
            with self.assertRaises(JobFailedError) as ctx:
                Client(s.base).featurize("kws", progress=False)
        self.assertEqual(ctx.exception.progress, failed)
        self.assertIn("worker lost the shard lock", str(ctx.exception))

    def test_a_job_that_does_not_end_in_time_raises_timeout(self):
        with self.service(lambda h: send(h, 404, b"", "text/plain"), [self.steps[1]]) as s:
            with self.assertRaises(NotFoundError):
                # An unknown job's events are a 404: raised, not polled forever.
                Client(s.base).featurize("kws", progress=False)
        with self.service(lambda h: send(h, 200, b"", "text/plain"), [self.steps[1]]) as s:
            with self.assertRaises(TimeoutError):
                Client(s.base).featurize("kws", progress=False, timeout=0.2, poll_interval=0.01)

    def test_no_worker_is_a_503_with_retry_after(self):
        def busy(h):
            send_problem(h, 503, "no-workers", "no featurize worker is connected", {"Retry-After": "7"}, pool="featurize")

        with self.service(post=busy) as s:
            with self.assertRaises(ServiceUnavailableError) as ctx:
                Client(s.base).featurize("kws")
        self.assertEqual((ctx.exception.retry_after, ctx.exception.extensions), (7, {"pool": "featurize"}))

    def test_a_featurize_answer_without_a_job_id_is_refused(self):
        with self.service(post=lambda h: send_json(h, 202, {"created": True})) as s:
            with self.assertRaises(ProtocolError):
                Client(s.base).featurize("kws")


class ListingTest(unittest.TestCase):
    def pages(self, key, items, per_page=2, link_base=""):
        def respond(r, h):
            offset = int(r.query.get("offset", "0"))
            limit = int(r.query.get("limit", str(per_page)))
            page = items[offset : offset + limit]
            headers = {}
            if offset + limit < len(items):
                query = dict(r.query, offset=str(offset + limit), limit=str(limit))
                headers["Link"] = '<{}{}?{}>; rel="next"'.format(link_base, r.path, "&".join("{}={}".format(k, v) for k, v in query.items()))
            send_json(h, 200, {key: page, "total": len(items)}, headers)

        return FakeServer(respond)

    def test_jobs_filter_and_follow_every_page(self):
        jobs = [progress("featurize-{:032x}".format(i), "completed", 120) for i in range(5)]
        with self.pages("jobs", jobs) as s:
            got = Client(s.base).jobs(dataset="kws", state="completed")
        self.assertEqual([j["id"] for j in got], [j["id"] for j in jobs])
        self.assertEqual(s.requests[0].query, {"dataset": "kws", "state": "completed"})
        self.assertEqual([r.query.get("offset") for r in s.requests], [None, "2", "4"])
        self.assertTrue(all(r.path == "/v1/jobs" for r in s.requests))

    def test_a_limit_asks_for_one_page(self):
        jobs = [progress("featurize-{:032x}".format(i), "active", 0) for i in range(5)]
        with self.pages("jobs", jobs) as s:
            got = Client(s.base).jobs(limit=2, offset=1)
        self.assertEqual([j["id"] for j in got], [j["id"] for j in jobs[1:3]])
        self.assertEqual(len(s.requests), 1)

    def test_datasets_follow_pages_too(self):
        views = [dict(VIEW, id="d{}".format(i)) for i in range(3)]
        with self.pages("datasets", views) as s:
            self.assertEqual([d["id"] for d in Client(s.base).datasets()], ["d0", "d1", "d2"])

    def test_a_next_link_to_another_origin_is_not_followed(self):
        views = [dict(VIEW, id="d{}".format(i)) for i in range(3)]
        with self.pages("datasets", views, link_base="http://127.0.0.2:1") as s:
            with self.assertRaises(ProtocolError):
                Client(s.base, token="t").datasets()
        self.assertEqual(len(s.requests), 1)

    def test_cancel_and_job(self):
        def respond(r, h):
            if r.method == "DELETE":
                send_json(h, 202, {"id": JOB, "state": "cancelled"})
            else:
                send_json(h, 200, FeaturizeTest.final)

        with FakeServer(respond) as s:
            c = Client(s.base)
            self.assertEqual(c.job(JOB)["state"], "completed")
            self.assertEqual(c.cancel(JOB), {"id": JOB, "state": "cancelled"})
        self.assertEqual([(r.method, r.path) for r in s.requests], [("GET", "/v1/jobs/" + JOB), ("DELETE", "/v1/jobs/" + JOB)])


class PlainProgressTest(unittest.TestCase):
    def test_into_a_file_it_writes_a_line_per_tenth_and_the_last(self):
        out = io.StringIO()
        bar = PlainProgress("featurize kws/training", out)
        for done in range(0, 121, 4):
            bar.update(progress(JOB, "active", done))
        bar.close(progress(JOB, "completed", 120))
        lines = out.getvalue().splitlines()
        self.assertEqual(len(lines), 11 + 1, lines)  # 0%, 10%, … 100% while active, then completed
        self.assertTrue(lines[0].startswith("featurize kws/training:   0% 0/120 clips, 0/6 shards"), lines[0])
        self.assertTrue(lines[-1].startswith("featurize kws/training: 100% 120/120 clips, 6/6 shards"), lines[-1])
        self.assertTrue(lines[-1].endswith("completed"), lines[-1])
        self.assertNotIn("\r", out.getvalue())


if __name__ == "__main__":
    unittest.main()
