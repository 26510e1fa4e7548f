"""Big screens cannot starve a worker (issue 14, item 8): 200 display streams at once against
gunicorn with the shipped gevent settings (2 workers x 20 connections). Each worker holds at
most DISPLAY_STREAMS_PER_WORKER streams (default 20 // 4 = 5) and answers the rest 503 with
Retry-After, so /healthz and saves keep answering, every display page still shows data
(the page polls /display/data), and a screen that goes away frees its slot within 5 s."""
import selectors
import socket
import time

import pytest

from faults.harness import DISTRICTS, some_choice, start_attempt

pytestmark = pytest.mark.slow

STREAMS = 200
WORKERS = 2
PER_WORKER = 20 // 4  # DISPLAY_STREAMS_PER_WORKER's default for the shipped 20 connections
GONE_WITHIN_S = 5.0


class Burst:
    """`count` requests for /display/events sent at once on raw sockets (no thread each);
    collect() reads each response's head within a bounded time."""

    def __init__(self, port: int, count: int):
        self.heads: dict[socket.socket, bytes] = {}
        request = (b"GET /display/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                   b"Cache-Control: no-cache\r\n\r\n")
        try:
            for _ in range(count):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)  # the kernel's backlog accepts
                self.heads[sock] = b""
                sock.sendall(request)
        except BaseException:
            self.close()
            raise

    def collect(self, timeout: float = 20) -> list[tuple[socket.socket, int, bytes]]:
        """(socket, status, head) of every request; raises when some got no head in time."""
        pending = set(self.heads)
        with selectors.DefaultSelector() as selector:
            for sock in pending:
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
            deadline = time.monotonic() + timeout
            while pending and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    sock = key.fileobj
                    try:
                        chunk = sock.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        chunk = b""
                    self.heads[sock] += chunk
                    if b"\r\n\r\n" in self.heads[sock] or not chunk:
                        pending.discard(sock)
                        selector.unregister(sock)
        assert not pending, f"{len(pending)} of {len(self.heads)} stream requests got no answer in {timeout} s"
        answered = []
        for sock, head in self.heads.items():
            status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
            answered.append((sock, status, head))
        return answered

    def close(self) -> None:
        for sock in self.heads:
            sock.close()


def within(seconds: float, call):
    """call()'s reply, asserting it came within `seconds` (the call itself times out at 3 s)."""
    started = time.monotonic()
    try:
        reply = call()
    except OSError as exc:  # socket.timeout included: the worker never took the request
        raise AssertionError(f"no answer after {time.monotonic() - started:.1f} s: {exc!r}") from None
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"answered after {elapsed:.2f} s (wanted < {seconds} s): {reply!r}"
    return reply


def read_until(sock: socket.socket, marker: bytes, already: bytes, timeout: float = 5) -> bytes:
    received = already
    sock.setblocking(True)
    sock.settimeout(timeout)
    while marker not in received:
        chunk = sock.recv(65536)
        assert chunk, "the stream closed"
        received += chunk
    return received


def test_two_hundred_display_streams_leave_the_workers_free_and_gone_screens_free_their_slots(
        deploy, shared_redis_url):
    deployment = deploy(shared_redis_url)
    host = deployment.host(workers=WORKERS)
    phone, = deployment.citizens(1)
    token = host.token(phone)
    attempt = start_attempt(host, token)
    question = attempt["questions"][0]

    def healthz():
        reply = host.get("/healthz", timeout=3)
        assert reply.status == 200, reply
        return reply

    def save():
        reply = host.put(f"/api/v1/attempts/{attempt['id']}/answers/{question['id']}",
                         {"choices": some_choice(question)}, token=token, timeout=3)
        assert reply.status == 200, reply
        return reply

    for _ in range(2 * WORKERS):  # both workers warm: a first save opens the direct pool
        healthz(), save()

    burst = Burst(host.port, STREAMS)
    again = None
    try:
        within(1.0, healthz)  # while the 200 are being answered
        within(1.0, save)
        answered = burst.collect()
        held = [(sock, head) for sock, status, head in answered if status == 200]
        refused = [head for _, status, head in answered if status != 200]
        assert len(held) == WORKERS * PER_WORKER, sorted({status for _, status, _ in answered})
        assert all(head.startswith(b"HTTP/1.1 503 ") and b"\r\nRetry-After: 60\r\n" in head for head in refused), \
            refused[:1]
        assert all(b"text/event-stream" in head for _, head in held)
        first = read_until(held[0][0], b"event: snapshot", held[0][1])
        assert b"retry: " in first

        # With every worker's share of streams taken and held open:
        for _ in range(3):
            within(1.0, healthz)
            within(1.0, save)
        for code in [None, *sorted(DISTRICTS)]:
            page = host.get(f"/display/{code}" if code else "/display", timeout=5)
            assert page.status == 200 and b'id="top-table"' in page.body, (code, page)
            assert b'data-data-url="/display/data' in page.body  # where the page falls back to
            data = host.get(f"/display/data?district={code}" if code else "/display/data", timeout=5)
            assert data.status == 200 and data.json["available"] is True, (code, data)
            assert data.json["participants"] == 0 and isinstance(data.json["districts"], list)

        # The screens go away (no FIN handshake awaited): their slots are free within 5 s.
        burst.close()
        gone_at = time.monotonic()
        time.sleep(GONE_WITHIN_S)
        again = Burst(host.port, STREAMS)
        reopened = [status for _, status, _ in again.collect()]
        assert reopened.count(200) == WORKERS * PER_WORKER, \
            f"{reopened.count(200)} streams open {time.monotonic() - gone_at:.1f} s after the screens left"
        within(1.0, healthz)
    finally:
        burst.close()
        if again is not None:
            again.close()
    log = host.log_text()
    assert "Traceback" not in log, log[-3000:]

