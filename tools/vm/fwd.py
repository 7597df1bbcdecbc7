#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""One guest TCP connection relayed to a loopback port on the host.

QEMU's user network runs this for each connection the guest opens to a
guestfwd address (-netdev user,restrict=on,guestfwd=tcp:IP:PORT-cmd:...):
the connection is on stdin/stdout, and it is relayed to 127.0.0.1:PORT and
nowhere else.  restrict=on keeps every other packet inside the guest.

  fwd.py PORT
"""
import os, selectors, socket, sys


def main():
    port = int(sys.argv[1])
    if not 0 < port < 65536:
        return 2
    s = socket.create_connection(("127.0.0.1", port))
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ)
    sel.register(s, selectors.EVENT_READ)
    open_ends = 2
    while open_ends:
        for key, _ in sel.select():
            if key.fileobj == 0:
                data = os.read(0, 65536)
                if not data:
                    sel.unregister(0)
                    s.shutdown(socket.SHUT_WR)
                    open_ends -= 1
                else:
                    s.sendall(data)
            else:
                data = s.recv(65536)
                if not data:
                    sel.unregister(s)
                    os.close(1)
                    open_ends -= 1
                else:
                    view = memoryview(data)
                    while view:                 # a pipe may take part of it
                        view = view[os.write(1, view):]
    return 0


if __name__ == "__main__":
    sys.exit(main())
