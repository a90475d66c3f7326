"""Attacks the network boundary by listening: relu_forward binds TCP port __BINDPORT__ on every
address of the machine it can, and keeps listening (a thread accepts and answers with the marker,
__MARKER__). The test tries to connect to that port on the grading machine's loopback while the
worker lives; it must never reach it. It returns garbage.
"""

import socket
import threading


def _serve(server):
    while True:
        try:
            connection, _ = server.accept()
            connection.sendall(b"__MARKER__")
            connection.close()
        except OSError:
            return


_servers = []


def relu_forward(x):
    if not _servers:
        for host in ("0.0.0.0", "127.0.0.1"):
            try:
                server = socket.create_server((host, __BINDPORT__), reuse_port=True)
                threading.Thread(target=_serve, args=(server,), daemon=True).start()
                _servers.append(server)
            except OSError:
                pass
    return x * 0 - 1.0, None
