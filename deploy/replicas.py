"""Several replicas of the app behind nginx on this machine, sharing one ENCDEC_HOME.

    python -m deploy.replicas --replicas 2 --port 8500 --home /srv/encdec [--ray auto] [-- STREAMLIT OPTIONS]

starts the replicas (each `streamlit run app.py` on a port of its own, ENCDEC_SHARED=1), writes
deploy/nginx.conf's blanks into a run folder and starts nginx in front of them, then waits; Ctrl-C
stops everything. With --ray, long work goes to that Ray cluster (see docs/classroom.md); without it,
each replica keeps its own worker processes. The browser tests use `Replicas` the same way.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.chromium import Server, free_port

HERE = Path(__file__).resolve().parent
NGINX = os.environ.get("NGINX", shutil.which("nginx") or "/usr/sbin/nginx")


def nginx_conf(prefix: Path, listen: str, ports: list[int]) -> str:
    """deploy/nginx.conf with its blanks filled for replicas on 127.0.0.1:`ports`."""
    upstreams = []
    for i, port in enumerate(ports):
        backups = "".join(f" server 127.0.0.1:{p} backup;" for p in ports if p != port)
        upstreams.append(f"    upstream replica_{i} {{ server 127.0.0.1:{port};{backups} }}")
    upstreams.append("    upstream replicas { " + " ".join(f"server 127.0.0.1:{p};" for p in ports) + " }")
    return (HERE / "nginx.conf").read_text().format(
        prefix=prefix, listen=listen, upstreams="\n".join(upstreams),
        replica_of_cookie="\n".join(f'        "{i}" replica_{i};' for i in range(len(ports))),
        replica_of_address="\n".join(f'        "127.0.0.1:{p}" {i};' for i, p in enumerate(ports)))


class Replicas:
    """`n` replicas sharing `home`, and nginx in front of them at `url`; `env` is added to every replica's."""

    def __init__(self, home: Path, n: int = 2, port: int | None = None, env: dict | None = None,
                 run_dir: Path | None = None):
        if not Path(NGINX).exists():
            raise RuntimeError(f"nginx is not installed at {NGINX}; install it (apt-get install nginx).")
        self.home = Path(home)
        self.replicas: list[Server] = []
        self.nginx = None
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="encdec-nginx-"))
        self.run_dir.chmod(0o755)  # nginx's workers (another user when started as root) keep request bodies here
        try:
            for i in range(n):
                self.replicas.append(Server(self.home, env={"ENCDEC_SHARED": "1", **(env or {})},
                                            log_name=f"replica-{i}.log"))
            self.port = port or free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            conf = self.run_dir / "nginx.conf"
            conf.write_text(nginx_conf(self.run_dir, f"127.0.0.1:{self.port}", [r.port for r in self.replicas]))
            self.nginx = subprocess.Popen([NGINX, "-p", str(self.run_dir), "-c", str(conf), "-g", "daemon off;"],
                                          stdout=subprocess.DEVNULL, stderr=(self.run_dir / "nginx.out").open("w"))
            self._wait_for_proxy()
        except Exception:
            self.stop()
            raise

    def _wait_for_proxy(self, seconds: float = 30) -> None:
        end = time.time() + seconds
        while time.time() < end:
            if self.nginx.poll() is not None:
                raise RuntimeError("nginx did not start: " + (self.run_dir / "nginx.out").read_text()[-500:])
            try:
                if urllib.request.urlopen(self.url + "/_stcore/health", timeout=2).read() == b"ok":
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"nginx did not answer at {self.url} in {seconds:.0f} s")

    def stop(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(20)
        for r in self.replicas:
            r.stop()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m deploy.replicas", description=__doc__.splitlines()[0])
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--port", type=int, default=8500, help="where nginx listens (on 127.0.0.1)")
    p.add_argument("--home", default=os.environ.get("ENCDEC_HOME", str(Path.home() / ".encdec")),
                   help="the shared ENCDEC_HOME")
    p.add_argument("--ray", default=None, help="a Ray cluster's address for long work (ENCDEC_RAY_ADDRESS)")
    a = p.parse_args(argv)
    if not 1 <= a.replicas <= 32:
        print("--replicas must be 1 to 32.", file=sys.stderr)
        return 2
    env = {"ENCDEC_RAY_ADDRESS": a.ray} if a.ray else {}
    try:
        running = Replicas(Path(a.home), a.replicas, a.port, env)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"{a.replicas} replicas behind nginx at {running.url} (ENCDEC_HOME={a.home}); Ctrl-C stops them", flush=True)
    try:
        while all(r.proc.poll() is None for r in running.replicas) and running.nginx.poll() is None:
            time.sleep(1)
        print("a replica or nginx stopped; stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        running.stop()


if __name__ == "__main__":
    raise SystemExit(main())
