#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""A stand-in desktop notification server for notify_dbus.sh.

  notify_server.py serve ADDRESS RECORD MARKUP READY
      Own org.freedesktop.Notifications on the bus at ADDRESS (Desktop
      Notifications spec 1.2) and append every Notify call, with the uid it
      came from, to RECORD as one JSON line.  MARKUP "yes" advertises
      "body-markup".  READY is created once the name is owned.
  notify_server.py count RECORD
  notify_server.py field RECORD N KEY
      Print field KEY ("hints.urgency" for a hint) of record N (from 0).

Needs Debian's python3-dbus and python3-gi (the GLib main loop).
"""
import json
import os
import sys

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


def serve(address, record, markup, ready):
    import dbus
    import dbus.bus
    import dbus.service
    from dbus.mainloop.glib import DBusGMainLoop
    from gi.repository import GLib

    DBusGMainLoop(set_as_default=True)
    conn = dbus.bus.BusConnection(address)
    caps = ["body", "actions"] + (["body-markup"] if markup == "yes" else [])

    class Server(dbus.service.Object):
        next_id = 1

        @dbus.service.method(NAME, in_signature="", out_signature="as")
        def GetCapabilities(self):
            return caps

        @dbus.service.method(NAME, in_signature="", out_signature="ssss")
        def GetServerInformation(self):
            return ("notify_server.py", "mynaguard tests", "1", "1.2")

        @dbus.service.method(NAME, in_signature="u", out_signature="")
        def CloseNotification(self, nid):
            pass

        @dbus.service.method(NAME, in_signature="susssasa{sv}i",
                             out_signature="u", sender_keyword="sender")
        def Notify(self, app_name, replaces_id, icon, summary, body,
                   actions, hints, timeout, sender=None):
            rec = {
                "app_name": app_name, "replaces_id": int(replaces_id),
                "icon": icon, "summary": summary, "body": body,
                "actions": list(actions),
                "hints": {str(k): v for k, v in hints.items()},
                "timeout": int(timeout),
                "uid": int(conn.get_unix_user(sender)),
            }
            with open(record, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            Server.next_id += 1
            return Server.next_id - 1

    server = Server(conn, PATH)
    name = dbus.service.BusName(NAME, conn, do_not_queue=True)
    with open(ready, "w", encoding="utf-8"):
        pass
    GLib.MainLoop().run()
    del server, name


def records(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv):
    if len(argv) == 6 and argv[1] == "serve":
        serve(*argv[2:])
    elif len(argv) == 3 and argv[1] == "count":
        print(len(records(argv[2])))
    elif len(argv) == 5 and argv[1] == "field":
        value = records(argv[2])[int(argv[3])]
        for key in argv[4].split("."):
            value = value[key]
        sys.stdout.buffer.write(str(value).encode("utf-8"))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
