"""The registration, over HTTP, next to its floor: the service and `bench/reference_app.py`
served side by side by gunicorn (2 workers each) and loaded in turn by wrk, in one run.

    python -m bench.registration                      # SQLite (scratch files)
    python -m bench.registration --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
    python -m bench.registration --seconds 3          # a smoke run (CI)

Prints requests per second and latency percentiles for the form page (GET /) and a
registration (POST /, each with its own email address and form token) on both apps, the ratios
service ÷ reference, and the registration's p99 again while an outbox worker is stuck on an SMTP
server that never answers. Needs wrk (Debian package `wrk`). See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine

from .lead_list import empty_postgres_schema
from .reference_app import metadata

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FORM = {
    "full_name": "Siân O'Brien-Smith",
    "phone": "07700 900 982",
    "organisation": "Northfield Community Trust",
    "role": "Ward manager",
    "dimensions": ["compassionate", "practical"],
    "help_text": "Leading a team through a hard winter.",
    "preferred_format": "video",
    "availability": "Tuesday mornings",
    "consent": "y",
}
HIDDEN = re.compile(r'<input[^>]*name="([^"]+)"[^>]*type="hidden"[^>]*value="([^"]*)"|'
                    r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"')  # fmt: skip
LUA = """
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local cookie = "%(cookie)s"
local n = 0
request = function()
  n = n + 1
  local body = bodies[((n - 1) %% #bodies) + 1]
  return wrk.format("POST", "/", {["Content-Type"] = "application/x-www-form-urlencoded",
                                  ["Cookie"] = cookie}, body)
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Result:
    rps: float
    p50: float
    p99: float
    requests: int
    non_2xx_3xx: int


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(url: str, seconds: float, script: Path | None = None) -> Result:
    args = [
        "wrk",
        "-t1",
        "-c4",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "30s",
        url,
    ]
    if script is not None:
        args[1:1] = ["-s", str(script)]
    for attempt in range(3):
        done = subprocess.run(args, capture_output=True, text=True)
        if done.returncode == 0:
            try:
                return parse_wrk(done.stdout)
            except AttributeError:  # a figure missing from what it printed
                print(f"wrk printed no figures:\n{done.stdout}{done.stderr}")
        else:
            # wrk gives up at once if its first test connection fails (seen once in CI, on a
            # machine loaded by two test suites): say why, and try again once the server answers.
            print(f"wrk exited {done.returncode} ({done.stderr.strip() or done.stdout.strip()})")
        if attempt == 2:
            raise SystemExit(f"wrk failed three times against {url}")
        with urllib.request.urlopen(url, timeout=30):
            pass
    raise AssertionError("unreachable")


def parse_wrk(out: str) -> Result:
    """What wrk --latency printed, as figures."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # The percentiles' own lines ("     99%   12.34ms"), not a "+/- Stdev" column that happens
    # to end in 99% (it did in CI: "81.99%" followed by the next line's "Latency").
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)$", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)$", out, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Result(rps, p50, p99, requests, int(bad.group(1)) if bad else 0)


@contextmanager
def gunicorn(app: str, env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", app],
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/", timeout=5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{app} did not start:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def form_session(base: str) -> tuple[str, dict[str, str]]:
    """A browser's GET of the form: its cookie and hidden fields."""
    with urllib.request.urlopen(base + "/", timeout=30) as response:
        html = response.read().decode()
        cookie = "; ".join(c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie"))
    fields = {}
    for match in HIDDEN.finditer(html):
        name, value = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
        fields[name] = value
    return cookie, fields


def write_script(folder: Path, name: str, cookie: str, bodies: list[str]) -> Path:
    (folder / f"{name}.bodies").write_text("\n".join(bodies) + "\n")
    script = folder / f"{name}.lua"
    script.write_text(LUA % {"bodies": folder / f"{name}.bodies", "cookie": cookie})
    return script


def service_bodies(fields: dict[str, str], count: int, secret: str) -> list[str]:
    """Each registration with its own address and its own signed form token (made with the
    service's own code and secret, as its GET would), backdated past the time trap."""
    from flask import Flask

    from booking.links import make_token

    app = Flask("tokens")
    app.config.update(SECRET_KEY=secret)
    bodies = []
    with app.app_context():
        for n in range(count):
            token = make_token("register-form", {"n": f"bench-{n}", "t": time.time() - 60})
            data = {**fields, **FORM, "email": f"leader{n}@bench.example", "form_token": token}
            bodies.append(urllib.parse.urlencode(data, doseq=True))
    return bodies


def reference_bodies(fields: dict[str, str], count: int) -> list[str]:
    return [
        urllib.parse.urlencode({**fields, **FORM, "email": f"leader{n}@bench.example"}, doseq=True)
        for n in range(count)
    ]


class HungSMTP:
    """Accepts connections and never answers: the outbox worker waits on it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.held:
            connection.close()


def run(database_url: str | None, seconds: float, folder: Path) -> None:
    service_url = database_url or f"sqlite:///{folder / 'service.sqlite3'}"
    reference_url = database_url or f"sqlite:///{folder / 'reference.sqlite3'}"
    empty_postgres_schema(service_url)
    secret = "bench-secret"
    env = {
        "SECRET_KEY": secret,
        "DATABASE_URL": service_url,
        "APP_ENV": "development",
        "MAIL_SERVER": "",
        "MAIL_CAPTURE_DIR": str(folder / "mail"),
        "COACH_NOTIFY_EMAILS": "coaches@example.org",
        "BASE_URL": "http://bench.local",
        "FORM_MIN_SECONDS": "0",
        # The limiter stays on (it is part of the cost), with limits the run never reaches.
        "RATELIMIT_REGISTER_PER_ADDRESS": "10000000 per hour",
        "RATELIMIT_REGISTER_PER_EMAIL": "10000000 per hour",
    }
    # The reference's tables too, before its two workers start: each would create them at once
    # and, on PostgreSQL, one could fail ("already exists"); gunicorn then stops the server.
    engine = create_engine(reference_url)
    metadata.create_all(engine)
    engine.dispose()
    subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    # More bodies than either app can send in a run (~900 req/s at most seen on SQLite): a body sent
    # twice is a replay, which the service answers without writing, and would flatter it.
    count = max(2000, int(seconds * 2000))
    results: dict[str, Result] = {}
    with (
        gunicorn("booking:create_app()", env, folder / "service.log") as service,
        gunicorn(
            "bench.reference_app:create_app()",
            {"REFERENCE_DATABASE_URL": reference_url, "SECRET_KEY": secret},
            folder / "reference.log",
        ) as reference,
    ):
        for name, base in (("reference", reference), ("service", service)):
            wrk(base + "/", 1)  # warm up
            results[f"{name} GET"] = wrk(base + "/", seconds)
        cookie, fields = form_session(reference)
        ref_script = write_script(folder, "reference", cookie, reference_bodies(fields, count))
        cookie, fields = form_session(service)
        bodies = service_bodies(fields, count * 2, secret)
        first, second = bodies[:count], bodies[count:]
        svc_script = write_script(folder, "service", cookie, first)
        results["reference POST"] = wrk(reference + "/", seconds, ref_script)
        results["service POST"] = wrk(service + "/", seconds, svc_script)

        # The same, while an outbox worker is stuck on a mail server that never answers.
        hung = HungSMTP()
        worker_env = {**env, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(hung.port)}
        worker = subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", "outbox", "work", "--poll", "0.2"],
            cwd=ROOT,
            env={**os.environ, **worker_env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # Measured once the worker is stuck on the server (it has the first run's mail to
            # send), not while it is still starting: importing the app takes a core for a second
            # or more, and that is not what this row is about.
            deadline = time.monotonic() + 60
            while not hung.held and time.monotonic() < deadline and worker.poll() is None:
                time.sleep(0.05)
            if not hung.held:
                raise SystemExit("the outbox worker never reached the hung SMTP server")
            hung_script = write_script(folder, "service-hung", cookie, second)
            results["service POST, SMTP hung"] = wrk(service + "/", seconds, hung_script)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            hung.close()

    kind = (database_url or "sqlite").split(":")[0].split("+")[0]
    print(f"\n== {kind}: wrk, 1 thread, 4 connections, {seconds:g} s each ==\n")
    print(f"{'':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'bad':>5}")
    for label, result in results.items():
        print(
            f"{label:28} {result.rps:8.1f} {result.p50:8.1f} {result.p99:8.1f} "
            f"{result.requests:9d} {result.non_2xx_3xx:5d}"
        )
    for label, result in results.items():
        if "POST" in label and result.requests > count:
            print(f"note: {label} sent more requests than bodies: some were replays")
    get = results["service GET"].rps / results["reference GET"].rps
    post = results["service POST"].rps / results["reference POST"].rps
    hung_p99 = results["service POST, SMTP hung"].p99 / results["service POST"].p99
    print(f"\nform page:     {get:.2f}× the reference's requests per second (target ≥ 0.8)")
    print(f"registration:  {post:.2f}× the reference's requests per second (target ≥ 0.5)")
    print(f"SMTP hung:     p99 {hung_p99:.2f}× the p99 with it answering (target ≤ 1.1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: scratch SQLite files")
    parser.add_argument("--seconds", type=float, default=10.0, help="per wrk run")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="bench-registration-") as tmp:
        run(args.database_url, args.seconds, Path(tmp))


if __name__ == "__main__":
    main()
