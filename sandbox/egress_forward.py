"""The sandbox side of the egress proxy (see sandbox/egress.py): forward the sandbox's own
127.0.0.1:PORT to the proxy's unix socket, and run the command with the proxy variables set.

    python -I -S egress_forward.py SOCKET -- PROGRAM ARGS...

Standard library only, run by path (it must not import the agent's packages). The port is bound
before the command starts, so the command never races the forwarder; the exit status is the
command's (128 + N when a signal N ended it).
"""

from __future__ import annotations

import os
import select
import socket
import sys
import threading

IDLE_TIMEOUT = 300.0
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")


def pump(left: socket.socket, right: socket.socket) -> None:
    peers = {left: right, right: left}
    try:
        while True:
            ready, _, _ = select.select(list(peers), [], [], IDLE_TIMEOUT)
            if not ready:
                return
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                peers[sock].sendall(data)
    except OSError:
        return
    finally:
        left.close()
        right.close()


def forward(listener: socket.socket, path: str) -> None:
    while True:
        conn, _ = listener.accept()
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(path)
        except OSError:
            conn.close()
            upstream.close()
            continue
        threading.Thread(target=pump, args=(conn, upstream), daemon=True).start()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: egress_forward.py SOCKET -- PROGRAM ARGS...")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    env = {**os.environ, **dict.fromkeys(PROXY_VARIABLES, url), "NO_PROXY": "", "no_proxy": ""}
    pid = os.fork()
    if pid == 0:
        listener.close()
        try:
            os.execvpe(argv[2], argv[2:], env)
        except OSError as exc:
            print(f"cannot run {argv[2]}: {exc}", file=sys.stderr)
            os._exit(127)
    threading.Thread(target=forward, args=(listener, argv[0]), daemon=True).start()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main(sys.argv[1:]))
